-- Verified identities (issue 28): who confirmed a person's master key, when, and how
-- (an interactive verification confirmed by an admin, or the operator's console). The
-- verification belongs to the key it names: it counts only while verified_key is the
-- pinned master_key and no changed key is waiting (commands/verified.py).
ALTER TABLE identities ADD COLUMN verified_key TEXT;
ALTER TABLE identities ADD COLUMN verified_by TEXT;
ALTER TABLE identities ADD COLUMN verified_at TEXT;
ALTER TABLE identities ADD COLUMN verified_how TEXT;
