"""sources/export."""
