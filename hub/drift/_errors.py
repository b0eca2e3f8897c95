"""The drift monitor's errors (part of the hub's tree).

    HubError
    └── DriftError
        └── IncompatibleSketch   counts that do not fit the reference histogram (wrong number of bins)
"""

from __future__ import annotations

from hub._errors import HubError


class DriftError(HubError):
    """Base class of the drift monitor's errors."""


class IncompatibleSketch(DriftError):
    """A feature's counts do not match its reference histogram (neither `len(probs)` nor `len(probs) + 2`)."""
