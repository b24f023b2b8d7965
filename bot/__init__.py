"""The Matrix runtime (ARCHITECTURE.md)."""

from bot import blocking_transport, peewee_drivers, pycryptodome_backend

peewee_drivers.hide()  # before nio (and so peewee) is imported: see bot/peewee_drivers.py
pycryptodome_backend.use_ctypes()  # likewise, before nio imports pycryptodome
blocking_transport.defer()  # and h11/h2, which only nio's blocking HttpClient uses
