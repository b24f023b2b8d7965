-- Pinned cross-signing identities (master keys): first sight or operator; a changed key
-- waits in pending_key until an admin approves it.
CREATE TABLE identities (
    user_id TEXT PRIMARY KEY,
    master_key TEXT NOT NULL,
    pinned_at TEXT NOT NULL,
    pinned_by TEXT NOT NULL,
    pending_key TEXT,
    pending_since TEXT
);
