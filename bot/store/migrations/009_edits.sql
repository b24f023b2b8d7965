-- Element's edits (m.replace): the ledger row of an edit names the event it replaces, so
-- an edit chain can be followed back to its original and a command is applied only once.
ALTER TABLE handled_events ADD COLUMN replaces TEXT;
CREATE INDEX handled_events_replaces ON handled_events (replaces);
-- Where the event was (its thread), so the answer to a later edit goes to the same thread.
ALTER TABLE handled_events ADD COLUMN thread_root TEXT;
-- What a command created (audit by event), named in the answer to an edit of it.
CREATE INDEX audit_event ON audit (event_id);
