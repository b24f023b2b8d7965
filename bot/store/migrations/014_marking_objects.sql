-- Markings on objects: each object's handling marking as JSON ({"level": ..., "rel": [...]},
-- NULL = unmarked), and a post's and a summit's default for what is created for them.
ALTER TABLE posts ADD COLUMN marking TEXT;
ALTER TABLE summits ADD COLUMN marking TEXT;
ALTER TABLE liaison_requests ADD COLUMN marking TEXT;
ALTER TABLE action_items ADD COLUMN marking TEXT;
ALTER TABLE schedule_items ADD COLUMN marking TEXT;
