"""REST API under /api/v1 (routes in `routes/`, database access in `hub.crud`)."""
