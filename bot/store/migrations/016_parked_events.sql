-- Poison events (bot/parking.py): an event whose handling failed with a store or runtime
-- error is kept here with where and why it failed, instead of stopping the sync loop or
-- being tried again on every start. Never its body. An operator reads them
-- (docs/OPERATIONS.md); deleting a row and replaying the event is the way to try it again.
CREATE TABLE parked_events (
    event_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    room_id TEXT,
    sender TEXT,
    reason TEXT NOT NULL,
    parked_at TEXT NOT NULL,
    PRIMARY KEY (event_id, stage)
);
