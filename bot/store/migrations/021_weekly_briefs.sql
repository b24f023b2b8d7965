-- The Monday brief (commands/brief/): each person's own choice (!brief weekly on|off; no
-- row, or weekly NULL: the deployment's ATTACHE_BRIEF_DEFAULT) and the last week briefed
-- (the Monday's local date, YYYY-MM-DD), so a zone change or a restart never brings a
-- second brief for a week. The brief's job itself is a row of jobs (kind 'brief.weekly').
CREATE TABLE weekly_briefs (
    user_id TEXT PRIMARY KEY,
    weekly INTEGER,
    briefed_week TEXT,
    updated_at TEXT NOT NULL
);
