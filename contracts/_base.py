"""Shared pydantic base and field types for every wire message."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from contracts._errors import LimitError, PayloadError
from contracts.limits import MAX_PAYLOAD_BYTES, MAX_TIMESTAMP_MS

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
]
"""Names of equipment, models, channels: 1-64 chars, letters, digits, `_ . -` inside."""

GatewayId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")]
SemVer = Annotated[str, StringConstraints(pattern=SEMVER.pattern, max_length=64)]
TimestampMs = Annotated[int, Field(ge=0, le=MAX_TIMESTAMP_MS)]
Sequence = Annotated[int, Field(ge=0, le=2**63 - 1)]
Counter = Annotated[int, Field(ge=0, le=2**63 - 1)]


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A float that is not NaN or infinite (checked inside pydantic-core, without a Python call per value)."""


class WireModel(BaseModel):
    """Strict base: unknown fields are errors, field names are the JSON names."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=False)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=False).encode("utf-8")


M = TypeVar("M", bound=BaseModel)


def decode_as(cls: type[M], raw: bytes | str, max_bytes: int = MAX_PAYLOAD_BYTES) -> M:
    """Parse and validate bytes as `cls`; any failure becomes PayloadError naming the field."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise LimitError("", f"payload is {len(data)} bytes, limit is {max_bytes}")
    try:
        return cls.model_validate_json(data)
    except ValidationError as exc:
        raise _payload_error(exc) from None
    except (RecursionError, OverflowError, ValueError) as exc:
        raise PayloadError("", f"cannot parse: {type(exc).__name__}") from None


def validate_as(cls: type[M], document: Any) -> M:
    try:
        return cls.model_validate(document)
    except ValidationError as exc:
        raise _payload_error(exc) from None
    except (RecursionError, OverflowError) as exc:
        raise PayloadError("", f"cannot validate: {type(exc).__name__}") from None


def _payload_error(exc: ValidationError) -> PayloadError:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return PayloadError("", f"not valid UTF-8 JSON: {str(first['msg'])[:120]}")
    field = ".".join(str(part) for part in first["loc"])
    reason = str(first["msg"])
    if first["type"] in {"too_long", "too_short"} and "List" in reason:
        return LimitError(field, reason)
    return PayloadError(field, reason)
