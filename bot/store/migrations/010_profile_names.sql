-- Display names from people's Matrix profiles, as seen in the member events of sync, so
-- replies can name people as Element does when the directory has no name for them.
CREATE TABLE profile_names (
    user_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
