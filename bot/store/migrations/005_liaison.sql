-- Liaison requests LR-n: who asked whom, their state, where each side's thread lives, history.
CREATE TABLE liaison_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requester TEXT NOT NULL,
    target TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT,
    precedence TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    due_at TEXT,
    due_zone TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX liaison_requests_requester ON liaison_requests (requester);

-- The people a request was addressed to, fixed when it was made (a post's members then).
CREATE TABLE liaison_addressees (
    request_id INTEGER NOT NULL REFERENCES liaison_requests (id),
    user_id TEXT NOT NULL,
    PRIMARY KEY (request_id, user_id)
);
CREATE INDEX liaison_addressees_user ON liaison_addressees (user_id);

-- One thread per side: the requester's DM, each addressee's DM, or a post's room. The root's
-- event ID is in outbox (by key) once sent, so replies and reactions map back to a request.
CREATE TABLE liaison_threads (
    key TEXT PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES liaison_requests (id),
    side TEXT NOT NULL,
    user_id TEXT,
    room_id TEXT
);
CREATE INDEX liaison_threads_request ON liaison_threads (request_id);

CREATE TABLE liaison_history (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES liaison_requests (id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX liaison_history_request ON liaison_history (request_id);

-- Thread replies and reactions name the root's event ID; find the outbox row by it quickly.
CREATE INDEX liaison_outbox_event ON outbox (event_id);
