"""The Matrix runtime (ARCHITECTURE.md)."""

from bot import peewee_drivers

peewee_drivers.hide()  # before nio (and so peewee) is imported: see bot/peewee_drivers.py
