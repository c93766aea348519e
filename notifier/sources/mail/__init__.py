"""sources/mail."""
