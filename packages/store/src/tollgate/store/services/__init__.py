"""Store services: plain functions over a database session, no HTTP in sight."""
