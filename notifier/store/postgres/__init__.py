"""store/postgres: the shared SQL store on PostgreSQL, for two or more instances."""
