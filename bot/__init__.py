"""The Matrix runtime (ARCHITECTURE.md)."""

from bot import peewee_drivers, pycryptodome_backend

peewee_drivers.hide()  # before nio (and so peewee) is imported: see bot/peewee_drivers.py
pycryptodome_backend.use_ctypes()  # likewise, before nio imports pycryptodome
