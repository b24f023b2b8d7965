"""The Monday brief: one message with a person's week (issue 27 point 4)."""
