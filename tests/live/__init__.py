"""Real helpdesk systems, started by fixtures on loopback (see tests/live/conftest.py)."""
