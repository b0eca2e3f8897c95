from __future__ import annotations

import contextlib
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import SignatureError, TopicError, canonical_json, topics
from contracts.signing import (
    generate_private_key,
    load_private_key,
    load_public_key,
    save_private_key,
    save_public_key,
    sign_bytes,
    verify_bytes,
)


def test_topics_are_built_and_parsed_back() -> None:
    topic = topics.up("paris-gw1", topics.UpKind.SCORES)
    assert topic == "vigie/v1/paris-gw1/up/scores"
    parsed = topics.parse(topic)
    assert (parsed.gateway, parsed.direction, parsed.kind) == ("paris-gw1", topics.Direction.UP, "scores")
    assert topics.down("lyon-gw1") == "vigie/v1/lyon-gw1/down/desired"
    assert topics.hub_up_filter("vigie-hub") == "$share/vigie-hub/vigie/v1/+/up/#"


@pytest.mark.parametrize("gateway", ["", "-a", "a-", "a/b", "a+b", "#", "é", "a" * 65, "a b"])
def test_invalid_gateway_ids_are_refused(gateway: str) -> None:
    with pytest.raises(TopicError):
        topics.up(gateway, topics.UpKind.SCORES)


@pytest.mark.parametrize(
    "topic",
    ["vigie/v2/gw/up/scores", "vigie/v1/gw/up/desired", "vigie/v1/gw/down/scores", "vigie/v1/gw/up", "x"],
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(topic)


@given(st.text(max_size=80))
def test_parse_never_crashes(topic: str) -> None:
    with contextlib.suppress(TopicError):
        topics.parse(topic)


def test_canonical_json_is_order_independent_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == canonical_json({"a": [1.5, "é"], "b": 1})
    assert canonical_json({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    with pytest.raises(SignatureError):
        canonical_json({"x": float("nan")})


def test_signatures_verify_and_detect_changes(tmp_path: Path) -> None:
    key = generate_private_key()
    save_private_key(key, tmp_path / "release.key")
    save_public_key(key.public_key(), tmp_path / "release.pub")
    assert stat.S_IMODE((tmp_path / "release.key").stat().st_mode) == 0o600
    signer = load_private_key(tmp_path / "release.key")
    pub = load_public_key(tmp_path / "release.pub")
    envelope = sign_bytes(signer, b"manifest bytes")
    verify_bytes([pub], b"manifest bytes", envelope)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_bytes([pub], b"manifest bytez", envelope)
    with pytest.raises(SignatureError, match="unknown key"):
        verify_bytes([generate_private_key().public_key()], b"manifest bytes", envelope)


@given(st.binary(max_size=300))
def test_garbage_signature_files_are_refused(envelope: bytes) -> None:
    key = generate_private_key()
    with pytest.raises(SignatureError):
        verify_bytes([key.public_key()], b"data", envelope)
