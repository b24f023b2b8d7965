-- An action item's history entries are written under its effective marking: its own
-- combined with its summit's (issue 22's last edge; commands/markings/current.py). Entries
-- written before this migration recorded the item's own marking alone, so widening the
-- summit would show its items' earlier steps to readers the summit had excluded.
-- What was in force for such an entry is known only if the summit has not been re-marked
-- since (its re-markings are in the audit log as 'summit.edit' naming marking or rel): then
-- it is the summit's marking now combined with the entry's. That combination is written
-- here where SQL can state it: the summit unmarked (the entry's own), the entry unmarked
-- (the summit's), or both the same. Every other entry - the summit re-marked at or after
-- it, the item or its summit gone, two different markings to combine - becomes NULL: not
-- known, shown to no one (fail closed, as 022 did).
UPDATE history
SET marking = CASE
    WHEN NOT EXISTS (
        SELECT 1 FROM action_items i JOIN summits s ON s.id = i.summit_id
        WHERE 'A-' || i.id = history.object
    ) THEN NULL
    WHEN EXISTS (
        SELECT 1 FROM action_items i JOIN audit a ON a.object = 'S-' || i.summit_id
        WHERE 'A-' || i.id = history.object
          AND a.action = 'summit.edit'
          AND (',' || a.detail || ',' LIKE '%,marking,%' OR ',' || a.detail || ',' LIKE '%,rel,%')
          AND a.at >= history.at
    ) THEN NULL
    WHEN (
        SELECT s.marking FROM action_items i JOIN summits s ON s.id = i.summit_id
        WHERE 'A-' || i.id = history.object
    ) IS NULL THEN marking
    WHEN marking = '' THEN (
        SELECT s.marking FROM action_items i JOIN summits s ON s.id = i.summit_id
        WHERE 'A-' || i.id = history.object
    )
    WHEN marking = (
        SELECT s.marking FROM action_items i JOIN summits s ON s.id = i.summit_id
        WHERE 'A-' || i.id = history.object
    ) THEN marking
    ELSE NULL
END
WHERE object LIKE 'A-%' AND marking IS NOT NULL;
