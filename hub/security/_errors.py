"""The error tree of the hub's security layer (part of the hub's tree).

    HubError
    └── SecurityError
        ├── AuthenticationError   401: no, malformed, expired or untrusted credentials
        ├── PermissionDenied      403: authenticated, but the role is too low
        ├── TooManyAttempts       429: login throttled after repeated failures
        └── UserError             a user or token operation that cannot be done (unknown name, duplicate, weak password)

Key and settings problems are `hub._errors.ConfigError`. Messages never contain a secret.
"""

from __future__ import annotations

from hub._errors import HubError


class SecurityError(HubError):
    """Base class of the security layer's errors."""


class AuthenticationError(SecurityError):
    """The request's credentials are missing or cannot be trusted (HTTP 401)."""


class PermissionDenied(SecurityError):
    """The principal is known but its role does not allow the route (HTTP 403)."""


class TooManyAttempts(SecurityError):
    """Too many failed logins for this user or client; `retry_after_s` says when to try again (HTTP 429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class UserError(SecurityError):
    """A user or API-token operation that cannot be done."""
