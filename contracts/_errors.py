"""The one error tree of the wire contracts.

    ContractError
    ├── TopicError            a topic that is not a Vigie v1 topic
    ├── PayloadError          a payload that is not a valid message (names the field and the reason)
    │   └── LimitError        a payload or batch over the configured limits
    └── SignatureError        a signature or key that does not verify / cannot be read
"""

from __future__ import annotations


class ContractError(Exception):
    """Base class of every error raised by `contracts`."""


class TopicError(ContractError):
    """The topic does not follow `vigie/v1/{gateway}/{up|down}/{kind}`."""


class PayloadError(ContractError):
    """A payload failed validation. `field` is a dotted path ("readings.3.ts"), `reason` is human text."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class LimitError(PayloadError):
    """A payload larger than the byte limit or a batch longer than the length limit."""


class SignatureError(ContractError):
    """An Ed25519 signature, key or signed document that cannot be trusted."""
