"""The database: engines and sessions (db), the tables (tables), the storable form of text (storable), and schema
migrations (migrate, with the Alembic scripts in migrations/)."""
