"""The names of the files the SQLite store keeps in a state directory."""

DATABASE_NAME = "notifier.sqlite3"
LOCK_NAME = "notifier.lock"
