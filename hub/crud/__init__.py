"""Database reads and writes used by the API routes and the CLI (one module per resource)."""
