-- Visits (V-n), meetings (M-n) and reminders (R-n). Times are UTC with the IANA zone beside;
-- a recurrence (RFC 5545 RRULE) is expanded in that zone from start_at, so DST moves nothing.
CREATE TABLE schedule_items (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('V', 'M', 'R')),
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    start_at TEXT NOT NULL,
    end_at TEXT,
    timezone TEXT NOT NULL,
    rrule TEXT,
    place TEXT NOT NULL DEFAULT '',
    lead_seconds TEXT NOT NULL DEFAULT '',
    room_id TEXT,
    creator TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active',
    next_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, number)
);
CREATE INDEX schedule_items_state ON schedule_items (state, next_at);

-- Who is concerned: a Matrix ID or a post code (its members are mentioned in reminders).
CREATE TABLE schedule_participants (
    item_id INTEGER NOT NULL REFERENCES schedule_items (id) ON DELETE CASCADE,
    who TEXT NOT NULL,
    PRIMARY KEY (item_id, who)
);
