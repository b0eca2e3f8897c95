"""One router per resource; `hub.api.main.api_router` assembles them under /api/v1."""
