"""The error tree of the audit log (part of the hub's tree).

    HubError
    └── AuditError              anything the audit log cannot do or cannot vouch for
        ├── ProofError          a Merkle proof that is malformed or does not verify
        ├── CheckpointError     a checkpoint that is malformed, wrongly signed or signed by an unknown key
        ├── WitnessError        a witness that cannot be written or read
        └── ExportError         an export file that cannot be read or written
"""

from __future__ import annotations

from hub._errors import HubError


class AuditError(HubError):
    """Base class of the audit log's errors."""


class ProofError(AuditError):
    """A Merkle inclusion or consistency proof that is malformed or does not verify."""


class CheckpointError(AuditError):
    """A signed checkpoint that cannot be trusted (bad signature, unknown key, malformed body)."""


class WitnessError(AuditError):
    """A checkpoint witness (file, MQTT) that cannot be written or read."""


class ExportError(AuditError):
    """An audit export file that cannot be read or written."""
