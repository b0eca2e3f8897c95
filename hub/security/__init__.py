"""The hub's security layer: users and roles, JWT/API-token authentication, the role guard on every route,
the request audit middleware and the `vigie hub user` commands. See docs/security.md."""
