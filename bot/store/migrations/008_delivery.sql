-- Delivery to a person: people the bot cannot reach (they rejected its invitation, their
-- account is gone) until they start a direct chat with it again.
CREATE TABLE unreachable_people (
    user_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);

-- Rooms the bot is in and whether they are end-to-end encrypted, as its sync last saw
-- them: commands check a post or summit room here when an admin sets it.
CREATE TABLE bot_rooms (
    room_id TEXT PRIMARY KEY,
    encrypted INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
