-- Answers to invitations (RSVP) of visits and meetings: one answer per item and person, the
-- latest one given (accepted, declined, tentative), with its note. A withdrawn answer (its
-- reaction removed) is deleted here; the item's history keeps every answer given.
CREATE TABLE schedule_answers (
    item_id INTEGER NOT NULL REFERENCES schedule_items (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('accepted', 'declined', 'tentative')),
    note TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    reaction_event TEXT,    -- the reaction that gave it (its redaction withdraws it), or NULL
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX schedule_answers_reaction ON schedule_answers (reaction_event);

-- Each invitation DM that asks a participant for an answer, by its outbox key (the sent
-- event ID is in outbox once sent), so a reaction on it maps back to the item and person.
-- A change of time starts a new round: invitations of an earlier round no longer count.
CREATE TABLE schedule_invitations (
    key TEXT PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES schedule_items (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX schedule_invitations_item ON schedule_invitations (item_id, user_id);
