"""Payload builders (pure): wire dicts -> JSON bytes of the contracts' messages, with a given seq.

Scores and events are serialised with msgspec's JSON encoder (about 10x the stdlib's; the scorer only
produces finite values and the contract's field names; `tests/agent/test_scorer.py` checks that
`contracts.decode_up` accepts the result).
Batches larger than the payload limit are split in halves by the caller (`TooBig`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from contracts.limits import MAX_PAYLOAD_BYTES
from contracts.messages import FeatureCounts, ModelRef, Sketch
from edge_agent.sketch import WindowSketch

Builder = Callable[[int], bytes]


class TooBig(Exception):
    """The payload would exceed MAX_PAYLOAD_BYTES: split the batch."""


_ENCODER = msgspec.json.Encoder()


def _dump(document: dict[str, Any]) -> bytes:
    data = _ENCODER.encode(document)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise TooBig(len(data))
    return data


def scores(gateway: str, readings: list[dict[str, Any]]) -> Builder:
    return lambda seq: _dump({"schema": "vigie.scores/1", "gateway": gateway, "seq": seq, "readings": readings})


def events(gateway: str, items: list[dict[str, Any]]) -> Builder:
    return lambda seq: _dump({"schema": "vigie.events/1", "gateway": gateway, "seq": seq, "events": items})


def sketch(gateway: str, ref: ModelRef, window: WindowSketch) -> Builder:
    pairs = zip(window.names, window.counts, strict=True)
    features = [FeatureCounts(name=n, counts=c.tolist()) for n, c in pairs]

    def build(seq: int) -> bytes:
        message = Sketch(
            gateway=gateway,
            seq=seq,
            equipment=window.equipment,
            model=ref.name,
            model_version=ref.version,
            window_start=window.window_start,
            window_end=window.window_end,
            n=window.n,
            features=features,
        )
        return message.to_bytes()

    return build
