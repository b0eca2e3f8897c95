"""A `Fetcher` over the hub's TUF repository (`tuf.ngclient.Updater` over HTTP(S)).

The agent pins a root metadata file (provisioned with the gateway) and keeps the metadata it has trusted
in a cache directory, so every fetch is protected against rollback (older metadata), freeze (expired
metadata), mix-and-match (snapshot), tampered or endless downloads (signed length and hash) and keys
that do not meet a role's threshold or were revoked (root rotation). The bundle is downloaded to a
temporary file, checked against the signed length and hash, and only then moved into `staging`: on any
failure nothing is left there. The agent still verifies the bundle's release signature afterwards.

Failures raise `BundleRejected` with reason `not_found` (no such target), `fetch_failed` (network,
HTTP, local I/O) or `untrusted` (a TUF check failed; the detail starts with what kind: `rollback`,
`expired`, `unsigned`, `mismatch`, `oversize`, `invalid`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# python-tuf re-exports its client API without `as`, which strict mypy flags (hence the ignore below).
import urllib3
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig  # type: ignore[attr-defined]

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected
from edge_agent.config import TufSection

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class TufSettings:
    metadata_url: str
    """e.g. `https://hub.example:8443/tuf/metadata/`"""
    targets_url: str
    """e.g. `https://hub.example:8443/tuf/targets/`"""
    trusted_root: Path
    """The pinned root metadata (any version the agent was provisioned with; newer ones are chained)."""
    cache_dir: Path
    """Where trusted metadata is kept between fetches (rollback protection needs it)."""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    timeout_s: float = 30.0
    """Connect timeout, and longest silence between two received chunks."""
    max_download_s: float = 600.0
    """Longest time one file may take (slow-retrieval protection)."""


def tuf_settings(section: TufSection, cache_dir: Path) -> TufSettings:
    """Fetcher settings from the agent config's `[models.tuf]` section (paths already resolved)."""
    base = section.url.rstrip("/")
    return TufSettings(
        metadata_url=f"{base}/metadata/", targets_url=f"{base}/targets/", trusted_root=section.trusted_root,
        cache_dir=cache_dir, ca_file=section.ca, cert_file=section.cert, key_file=section.key,
        timeout_s=section.timeout_s, max_download_s=section.max_download_s,
    )


class _Http(FetcherInterface):
    """HTTP(S) for ngclient with a private CA, an optional client certificate and a total-time limit."""

    def __init__(self, settings: TufSettings) -> None:
        self._max_s = settings.max_download_s
        self._pool = urllib3.PoolManager(
            ca_certs=str(settings.ca_file) if settings.ca_file else None,
            cert_file=str(settings.cert_file) if settings.cert_file else None,
            key_file=str(settings.key_file) if settings.key_file else None,
            retries=urllib3.Retry(total=3, redirect=0, backoff_factor=0.2, raise_on_status=False),
            timeout=urllib3.Timeout(connect=settings.timeout_s, read=settings.timeout_s),
            headers={"User-Agent": "vigie-agent"},
        )

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._pool.request("GET", url, preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"cannot reach {url}: {exc}") from None
        if response.status >= 400:
            # Never hand a connection back with an unread body: the next request on it would read that body
            # as its status line. Closing (not draining) also bounds what a hostile error body can cost.
            response.close()
            response.release_conn()
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status} for {url}", response.status)
        return self._chunks(url, response)

    def _chunks(self, url: str, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        deadline = time.monotonic() + self._max_s
        complete = False
        try:
            for chunk in response.stream(CHUNK_BYTES):
                if time.monotonic() > deadline:
                    raise tuf_errors.SlowRetrievalError(f"{url} took longer than {self._max_s:.0f}s")
                yield chunk
            complete = True
        except urllib3.exceptions.ReadTimeoutError:
            raise tuf_errors.SlowRetrievalError(f"{url}: no data for too long") from None
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {exc}") from None
        finally:
            if not complete:
                response.close()  # never drain an endless or abandoned body
            response.release_conn()


class TufFetcher:
    """Download `<name>/<version>.tar` from the hub's TUF repository (implements `edge_agent.fetcher.Fetcher`)."""

    def __init__(self, settings: TufSettings) -> None:
        self.settings = settings
        self._http = _Http(settings)

    def fetch(self, ref: ModelRef, staging: Path) -> Path:
        target_path = f"{ref.name}/{ref.version}.tar"
        staging.mkdir(parents=True, exist_ok=True)
        destination = staging / f"{ref.name}-{ref.version}.tar"
        partial = staging / f".{destination.name}.partial"
        try:
            updater = self._updater()
            info = updater.get_targetinfo(target_path)
            if info is None:
                raise BundleRejected("not_found", f"the hub's repository lists no {target_path}")
            updater.download_target(info, filepath=str(partial))
            partial.replace(destination)
            return destination
        except BundleRejected:
            raise
        except Exception as exc:  # every ngclient/OS failure becomes one clear BundleRejected
            raise _translate(target_path, exc) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()

    def _updater(self) -> Updater:
        """A fresh Updater per fetch (ngclient refreshes metadata once per instance)."""
        metadata_dir = self.settings.cache_dir / "metadata"
        metadata_dir.mkdir(parents=True, exist_ok=True)
        try:
            bootstrap = self.settings.trusted_root.read_bytes()
        except OSError as exc:
            where = self.settings.trusted_root
            raise BundleRejected("fetch_failed", f"cannot read trusted root {where}: {exc.strerror}") from None
        return Updater(
            metadata_dir=str(metadata_dir),
            metadata_base_url=self.settings.metadata_url,
            target_base_url=self.settings.targets_url,
            fetcher=self._http,
            config=UpdaterConfig(app_user_agent="vigie-agent"),
            bootstrap=bootstrap,
        )


_UNTRUSTED: tuple[tuple[type[Exception], str, str], ...] = (
    (tuf_errors.BadVersionNumberError, "rollback", "metadata older than what the agent already trusts"),
    (tuf_errors.ExpiredMetadataError, "expired", "metadata has expired (frozen or stale repository)"),
    (tuf_errors.UnsignedMetadataError, "unsigned", "metadata lacks enough signatures by trusted keys"),
    (tuf_errors.LengthOrHashMismatchError, "mismatch", "length or hash differs from the signed metadata"),
    (tuf_errors.DownloadLengthMismatchError, "oversize", "more bytes than the signed length"),
    (tuf_errors.RepositoryError, "invalid", "repository metadata is invalid"),
)


def _translate(target_path: str, exc: Exception) -> BundleRejected:
    for kind, tag, meaning in _UNTRUSTED:
        if isinstance(exc, kind):
            return BundleRejected("untrusted", f"{tag}: {meaning} ({target_path}: {_text(exc)})")
    if isinstance(exc, tuf_errors.DownloadHTTPError) and exc.status_code == 404:
        return BundleRejected("fetch_failed", f"{target_path}: the hub answered 404 for a listed file")
    return BundleRejected("fetch_failed", f"{target_path}: {type(exc).__name__}: {_text(exc)}")


def _text(exc: Exception) -> str:
    return (str(exc) or repr(exc))[:300]
