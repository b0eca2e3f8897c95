"""The registry's errors (part of the hub's tree).

    HubError
    └── RegistryError
        └── InvalidBundle     an uploaded bundle that fails verification (HTTP 422; names the reason)

Duplicates with other bytes are `hub._errors.Conflict`, unknown versions `hub._errors.NotFound`.
"""

from __future__ import annotations

from hub._errors import HubError


class RegistryError(HubError):
    """Base class of the registry's errors."""


class InvalidBundle(RegistryError):
    """The bundle is not a valid, signed bundle by a pinned release key, or is too large."""
