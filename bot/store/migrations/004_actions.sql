-- Summits, action items with their history, and the directory additions they need.

-- Directory: when a person's or post's entry last came from the seed file (idempotent loads).
ALTER TABLE posts ADD COLUMN updated_at TEXT;

-- Summits (S-n): the room is where the digest goes and whose members may read the items.
CREATE TABLE summits (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    starts_on TEXT,
    ends_on TEXT,
    room_id TEXT NOT NULL,
    timezone TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX summits_room ON summits (room_id, state);

-- Action items (A-n). due_at is the deadline instant in UTC; due_zone is the zone it was
-- given in; all_day says it was a date (deadline = end of that day in due_zone).
-- Overdue is derived from due_at and status, never stored.
CREATE TABLE action_items (
    id INTEGER PRIMARY KEY,
    summit_id INTEGER NOT NULL REFERENCES summits (id),
    text TEXT NOT NULL,
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('person', 'post')),
    owner TEXT NOT NULL,
    due_at TEXT NOT NULL,
    due_zone TEXT NOT NULL,
    all_day INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Indexes for the list filters (see bench/bench_actions.py): each common filter has an
-- index whose equality columns it fills, so a page is an index range, not a scan.
CREATE INDEX action_items_summit ON action_items (summit_id, status, due_at);
CREATE INDEX action_items_summit_owner ON action_items (summit_id, owner, status, due_at);
CREATE INDEX action_items_owner ON action_items (owner, status, due_at);
CREATE INDEX action_items_status ON action_items (status, due_at);
CREATE INDEX action_items_due ON action_items (due_at, id);

-- Full history: who changed what, when, with an optional comment, and the triggering event.
CREATE TABLE action_history (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES action_items (id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    field TEXT NOT NULL,
    old TEXT,
    new TEXT,
    comment TEXT,
    event_id TEXT
);
CREATE INDEX action_history_item ON action_history (item_id, id);
