-- One history for every object (who, when, what), named by its ID (LR-3, A-7, M-2): it
-- replaces action_history and liaison_history, and the schedule's reading of the audit log.
-- The audit log stays as it is: the security record of every command, not a domain's story.
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    object TEXT NOT NULL,   -- commands.ids.ObjectId, e.g. 'A-7'
    at TEXT NOT NULL,
    actor TEXT NOT NULL,    -- a Matrix ID, or 'bot'
    action TEXT NOT NULL,   -- created, status, due, owner, comment, escalated, cancel, edit …
    old TEXT,
    new TEXT,               -- the value after (a request's status after the step)
    detail TEXT,            -- the people's words (a comment, a reason) or what changed
    event_id TEXT           -- the command's event, for edits and exactly-once
);
CREATE INDEX history_object ON history (object, id);

INSERT INTO history (object, at, actor, action, old, new, detail, event_id)
SELECT 'A-' || item_id, at, actor, field, old, new, comment, event_id
FROM action_history ORDER BY id;

INSERT INTO history (object, at, actor, action, old, new, detail, event_id)
SELECT 'LR-' || request_id, at, actor, action, NULL, status, detail, NULL
FROM liaison_history ORDER BY id;

-- Visits, meetings and reminders kept their story in the audit log as '<kind>.<verb>'.
-- (Plain SQL that SQLite and PostgreSQL read alike.)
INSERT INTO history (object, at, actor, action, old, new, detail, event_id)
SELECT object, at, actor,
       CASE WHEN action LIKE '%.create' THEN 'create'
            WHEN action LIKE '%.cancel' THEN 'cancel'
            ELSE 'edit' END,
       NULL, NULL, detail, event_id
FROM audit
WHERE action IN ('visit.create', 'visit.cancel', 'visit.edit',
                 'meeting.create', 'meeting.cancel', 'meeting.edit',
                 'reminder.create', 'reminder.cancel', 'reminder.edit')
ORDER BY id;

DROP TABLE action_history;
DROP TABLE liaison_history;
