-- A post's and a summit's language, for what is sent to their room (people.language, for
-- each person, is in 001). NULL: the bot's default (ATTACHE_LANGUAGE).
ALTER TABLE posts ADD COLUMN language TEXT;
ALTER TABLE summits ADD COLUMN language TEXT;
