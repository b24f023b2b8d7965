"""The bot's durable store: one SQLite file, numbered migrations, one writer at a time."""

from bot.store.database import Store, StoreTooNew

__all__ = ["Store", "StoreTooNew"]
