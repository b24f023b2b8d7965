-- Replay protection: the Megolm origin (sender key, session, message index) of every
-- event the dispatcher handled, claimed in the same transaction as its effect. One
-- ciphertext names one triple, so a copy under a new event ID is refused, across restarts.
CREATE TABLE megolm_origins (
    sender_key TEXT NOT NULL,
    session_id TEXT NOT NULL,
    message_index INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (sender_key, session_id, message_index)
);

-- Admins come from the configuration only (ATTACHE_ADMINS): a role stored in the
-- directory could outlive the operator removing someone, so drop every stored 'admin'.
UPDATE people
SET roles = trim(replace(',' || roles || ',', ',admin,', ','), ',')
WHERE ',' || roles || ',' LIKE '%,admin,%';
