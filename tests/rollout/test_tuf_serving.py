"""The hub's /tuf mount over one keep-alive connection, as agents' urllib3 pools use it."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.rollout._fleet import hub_settings, running_hub

pytestmark = pytest.mark.integration


def test_a_404_does_not_corrupt_the_next_response_on_the_same_connection(
    tmp_path: Path, mosquitto: Any, release_pub: Path
) -> None:
    with running_hub(hub_settings(tmp_path, mosquitto, release_pub)) as hub:
        url = urlsplit(hub.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            for _ in range(3):  # TUF clients probe the next root version (404), then read timestamp.json
                conn.request("GET", "/tuf/metadata/99.root.json")
                missing = conn.getresponse()
                missing.read()
                assert missing.status == 404
                conn.request("GET", "/tuf/metadata/timestamp.json")
                found = conn.getresponse()
                body = found.read()
                assert found.status == 200, body[:200]
                assert body.startswith(b"{"), body[:200]
        finally:
            conn.close()
