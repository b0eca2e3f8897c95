"""The TUF fetcher's HTTP layer against a scripted server: connection reuse after an error response.

A scripted socket server (not the hub) because the bug needs one timing the hub only shows under load: the
error body arriving a moment after the headers. The hub's own /tuf serving is tested in tests/rollout."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuf.api.exceptions import DownloadHTTPError

from edge_agent.fetchers.tuf_fetcher import TufSettings, _Http

BODY = b'{"signed": {}}'


def _serve(conn: socket.socket) -> None:
    """Answer each request on one connection: `missing` -> 404 whose body comes 0.2 s after its headers."""
    with conn:
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffered += chunk
            request, buffered = buffered.split(b"\r\n\r\n", 1)
            try:
                if b"missing" in request.split(b"\r\n", 1)[0]:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n")
                    time.sleep(0.2)
                    conn.sendall(b"Not Found")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
            except OSError:  # the client closed the connection: what a correct client does after the 404
                return


@pytest.fixture
def scripted_server() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def test_an_unread_error_body_never_becomes_the_next_status_line(
    scripted_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    http = _Http(TufSettings(metadata_url="", targets_url="", trusted_root=tmp_path / "root.json",
                             cache_dir=tmp_path / "cache", timeout_s=5))
    caplog.set_level(logging.WARNING, logger="urllib3")
    for _ in range(3):  # TUF clients probe the next root version (404), then read timestamp.json
        with pytest.raises(DownloadHTTPError):
            http.fetch(f"{scripted_server}/metadata/missing.json")
        assert b"".join(http.fetch(f"{scripted_server}/metadata/timestamp.json")) == BODY
    retried = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert retried == []
