"""Writes through to the dialog files: the write service, its input checks and sync."""
