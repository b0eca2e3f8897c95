"""Test helpers for the TUF distribution: key sets, an HTTP server that can lie, attacker-made metadata."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Signer  # type: ignore[attr-defined]
from tuf.api.metadata import Metadata, Timestamp  # type: ignore[attr-defined]

from edge_agent.fetchers.tuf_fetcher import TufFetcher, TufSettings
from hub.distribution.keys import OnlineSigners

Body = bytes | Callable[[], Iterator[bytes]]


def signer() -> CryptoSigner:
    return CryptoSigner.generate_ed25519()


def online_signers(timestamp: int = 1, snapshot: int = 1, bundles: int = 1) -> OnlineSigners:
    return OnlineSigners(
        timestamp=tuple(signer() for _ in range(timestamp)),
        snapshot=tuple(signer() for _ in range(snapshot)),
        bundles=tuple(signer() for _ in range(bundles)),
    )


def endless(chunk: bytes = b"\0" * 65536, limit: int = 256 * 1024 * 1024) -> Callable[[], Iterator[bytes]]:
    """A body that goes on (up to `limit`, so the server thread ends even if nobody hangs up)."""

    def body() -> Iterator[bytes]:
        sent = 0
        while sent < limit:
            yield chunk
            sent += len(chunk)

    return body


@dataclass
class RepoServer:
    """Serves `<repo>/metadata` and `<repo>/targets` over HTTP; `overrides` maps URL paths to lies."""

    repo: Path
    overrides: dict[str, Body] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.overrides.get(self.path)
                if body is None:
                    body = server.file(self.path)
                if body is None:
                    self.send_error(404)
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(body)

            def _send(self, body: Body) -> None:
                self.send_response(200)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in body():
                    self.wfile.write(chunk)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def file(self, url_path: str) -> bytes | None:
        relative = Path(url_path.lstrip("/"))
        if ".." in relative.parts or relative.parts[:1] not in (("metadata",), ("targets",)):
            return None
        path = self.repo / relative
        return path.read_bytes() if path.is_file() else None


@contextlib.contextmanager
def serve(repo: Path, port: int = 0) -> Iterator[RepoServer]:
    state = RepoServer(repo)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), state.handler())
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="tuf-test-http", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def make_fetcher(base: str, trusted_root: bytes, workdir: Path) -> TufFetcher:
    workdir.mkdir(parents=True, exist_ok=True)
    pinned = workdir / "root.json"
    pinned.write_bytes(trusted_root)
    settings = TufSettings(
        metadata_url=f"{base}/metadata/",
        targets_url=f"{base}/targets/",
        trusted_root=pinned,
        cache_dir=workdir / "cache",
        timeout_s=10.0,
    )
    return TufFetcher(settings)


def attacker_timestamp(current: bytes, signers: list[Signer], version_delta: int = 1, **changes: Any) -> bytes:
    """A timestamp derived from `current` with a new version, signed by whatever keys the attacker holds."""
    md: Metadata[Timestamp] = Metadata.from_bytes(current)
    md.signed.version += version_delta
    md.signed.expires = changes.get("expires", datetime.now(UTC) + timedelta(days=1))
    md.signatures.clear()
    for s in signers:
        md.sign(s, append=True)
    return md.to_bytes()


def staged_files(staging: Path) -> list[str]:
    return sorted(os.listdir(staging)) if staging.exists() else []


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
