"""Wire contracts shared by the edge agent, the hub and model export.

Public API: topics, message models, the manifest, the codec, signing helpers and the error tree.
"""

from contracts._errors import ContractError, LimitError, PayloadError, SignatureError, TopicError
from contracts._files import write_atomic
from contracts.codec import decode_desired, decode_up
from contracts.manifest import Manifest, parse_manifest
from contracts.messages import (
    DesiredState,
    Event,
    EventsBatch,
    ModelRef,
    Reading,
    ReportedState,
    ScoresBatch,
    Sketch,
)
from contracts.signing import canonical_json

__all__ = [
    "ContractError",
    "DesiredState",
    "Event",
    "EventsBatch",
    "LimitError",
    "Manifest",
    "ModelRef",
    "PayloadError",
    "Reading",
    "ReportedState",
    "ScoresBatch",
    "SignatureError",
    "Sketch",
    "TopicError",
    "canonical_json",
    "decode_desired",
    "decode_up",
    "parse_manifest",
    "write_atomic",
]
