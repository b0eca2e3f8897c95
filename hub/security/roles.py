"""Roles, from least to most privileged; a role includes every role below it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    READER = "reader"
    """Technicians: read gateways, equipment, series, events, audit checkpoints and proofs."""
    OPERATOR = "operator"
    """Model publication and rollouts."""
    ADMIN = "admin"
    """Users, service accounts, keys, forced actions, the raw audit log."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, required: Role) -> bool:
        """True if a principal with this role may use a route that requires `required`."""
        return self.rank >= required.rank


_RANK = {Role.READER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
