"""store/sql: the store written once in the SQL every backend runs."""
