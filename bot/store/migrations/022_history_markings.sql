-- Each history entry keeps the marking its object had when the entry was written (issue 22,
-- finding 11b): widening an object's releasability (`!edit A-7 rel=FRA,DEU`) must not show
-- the newly covered readers what was written while they were not covered.
-- JSON as in the objects' own `marking` columns; '' = the object was unmarked; NULL = not
-- known, and such an entry is shown to no one (commands/markings/entries.py).
ALTER TABLE history ADD COLUMN marking TEXT;

-- Entries written before this migration: what is known for certain is the object's marking
-- now, and that it held for every entry written after the object's last re-marking (all of
-- them, for an object never re-marked). Entries up to and including a re-marking stay NULL:
-- which marking was in force then is not known, so they fail closed.
-- (Plain SQL that SQLite and PostgreSQL read alike; a re-marking is an action item's
-- 'marking' step, or a visit's or meeting's 'edit' whose detail lists marking or rel.)
UPDATE history
SET marking = COALESCE(
    CASE
        WHEN object LIKE 'LR-%' THEN
            (SELECT o.marking FROM liaison_requests o WHERE 'LR-' || o.id = history.object)
        WHEN object LIKE 'A-%' THEN
            (SELECT o.marking FROM action_items o WHERE 'A-' || o.id = history.object)
        WHEN object LIKE 'S-%' THEN
            (SELECT o.marking FROM summits o WHERE 'S-' || o.id = history.object)
        ELSE
            (SELECT o.marking FROM schedule_items o WHERE o.kind || '-' || o.number = history.object)
    END,
    CASE
        WHEN object LIKE 'LR-%' THEN
            (SELECT '' FROM liaison_requests o WHERE 'LR-' || o.id = history.object)
        WHEN object LIKE 'A-%' THEN
            (SELECT '' FROM action_items o WHERE 'A-' || o.id = history.object)
        WHEN object LIKE 'S-%' THEN
            (SELECT '' FROM summits o WHERE 'S-' || o.id = history.object)
        ELSE
            (SELECT '' FROM schedule_items o WHERE o.kind || '-' || o.number = history.object)
    END
)
WHERE NOT EXISTS (
    SELECT 1 FROM history later
    WHERE later.object = history.object
      AND later.id >= history.id
      AND (
          later.action = 'marking'
          OR (later.action = 'edit'
              AND (', ' || later.detail || ',' LIKE '%, marking,%'
                   OR ', ' || later.detail || ',' LIKE '%, rel,%'))
      )
);
