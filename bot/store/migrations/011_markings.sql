-- Markings and releasability: a person's nation (ISO 3166-1 alpha-3) and optional
-- clearance (one of the configured marking levels), and a post's nation. A person with no
-- nation receives only unmarked items; the outbox reads these at send time.
ALTER TABLE people ADD COLUMN nation TEXT;
ALTER TABLE people ADD COLUMN clearance TEXT;
ALTER TABLE posts ADD COLUMN nation TEXT;
