"""Interactive verification (SAS) with Element, confirmed out of band by an admin."""
