-- Core runtime: sync state, exactly-once bookkeeping, outbox, jobs, people, audit.
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per event the bot has acted on, written in the same transaction as the effect.
CREATE TABLE handled_events (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    command TEXT,
    outcome TEXT NOT NULL,
    correlation_id TEXT,
    handled_at TEXT NOT NULL
);

-- Replies and notices waiting to be sent; the send uses txn id attache.<id>, so a resend
-- after a crash is deduplicated by the homeserver.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    room_id TEXT,
    user_id TEXT,
    content TEXT NOT NULL,
    attachment BLOB,
    key TEXT UNIQUE,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    event_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_pending ON outbox (state, id);

CREATE TABLE refused_rooms (
    room_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);

CREATE TABLE dm_rooms (
    user_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL
);

-- People known to the bot; the directory extends this.
CREATE TABLE people (
    user_id TEXT PRIMARY KEY,
    display_name TEXT,
    roles TEXT NOT NULL DEFAULT '',
    timezone TEXT,
    language TEXT,
    updated_at TEXT NOT NULL
);

-- Scheduled work; the scheduler is an index of the pending rows.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    due_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    fired_at TEXT,
    late_seconds REAL,
    UNIQUE (kind, ref, due_at)
);
CREATE INDEX jobs_pending ON jobs (state, due_at);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT,
    detail TEXT,
    event_id TEXT
);
CREATE INDEX audit_object ON audit (object);
