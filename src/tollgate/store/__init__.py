"""The store server: folder and keys, database, payments, services and the HTTP API."""
