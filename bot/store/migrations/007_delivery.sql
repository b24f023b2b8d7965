-- Delivery to a person: people the bot cannot reach (they rejected its invitation, their
-- account is gone) until they start a direct chat with it again.
CREATE TABLE unreachable_people (
    user_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);
