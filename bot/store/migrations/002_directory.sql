-- Directory: posts/desks (e.g. FR-PARIS) that map to one or more people.
ALTER TABLE people ADD COLUMN post TEXT;

CREATE TABLE posts (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    room_id TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE post_members (
    post TEXT NOT NULL REFERENCES posts (code) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    PRIMARY KEY (post, user_id)
);
CREATE INDEX post_members_user ON post_members (user_id);
