"""The one error tree of the `vigie` operator tooling.

    VigieError
    ├── PkiError            the PKI directory is missing, incomplete, already exists, or a request is invalid
    └── BrokerConfigError   a broker configuration cannot be written from the given inputs

Foreign errors (`cryptography`, `OSError`, `contracts.TopicError`) are translated into these at the boundary
of `vigie.pki` and `vigie.broker`; the CLI maps them to exit codes.
"""

from __future__ import annotations


class VigieError(Exception):
    """Base class of every error raised by the `vigie` package."""


class PkiError(VigieError):
    """A PKI operation that cannot be done (missing or existing files, bad gateway id, unknown certificate)."""


class BrokerConfigError(VigieError):
    """The Mosquitto configuration cannot be generated (missing PKI files, bad port or path)."""
