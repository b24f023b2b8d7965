-- Hand-overs at rotation (H-n): who handed over to whom, who did it, and what moved, as JSON
-- (each object or post membership with what is needed to reverse it: undo within a day).
-- Each moved object's own story is in `history` (action 'handover'), as for every step.
CREATE TABLE handovers (
    id INTEGER PRIMARY KEY,
    old_user TEXT NOT NULL,
    new_user TEXT NOT NULL,
    actor TEXT NOT NULL,
    post TEXT,
    note TEXT,
    moves TEXT NOT NULL,
    created_at TEXT NOT NULL,
    event_id TEXT,
    undone_at TEXT,
    undone_by TEXT
);
CREATE INDEX handovers_old ON handovers (old_user, id);
CREATE INDEX handovers_new ON handovers (new_user, id);
