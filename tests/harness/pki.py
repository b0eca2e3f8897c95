"""A PKI made with `vigie.pki`, for tests: the session's certificates plus a helper to issue gateway certs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.harness._util import unique_id
from vigie import pki as lib


@dataclass(frozen=True, slots=True)
class ClientCert:
    """A client certificate and its private key (0600). `common_name` is the MQTT username it gets."""

    cert: Path
    key: Path
    common_name: str


class HarnessPki:
    """A complete PKI directory (root, service and device CAs, broker, hub) created by `vigie.pki.init_pki`.

    Attributes: `dir`, `paths` (`vigie.pki.PkiPaths`), `ca` (CA bundle for `cafile`/`tls_set`),
    `crl`, `hub` (ClientCert, CN `vigie-hub`).
    Tests share the session PKI: issue certs for *unique* gateway ids (`unique_gateway_id`).
    """

    def __init__(self, directory: Path, hosts: tuple[str, ...] = ()) -> None:
        self.dir = Path(directory)
        lib.init_pki(self.dir, hosts=hosts)
        self.paths = lib.PkiPaths(self.dir)
        self.ca = self.paths.ca_bundle
        self.crl = self.paths.crl
        self.hub = ClientCert(self.paths.hub_cert, self.paths.hub_key, lib.HUB_CN)

    def issue(self, gateway_id: str, *, days: int = 30, not_valid_before: datetime | None = None,
              not_valid_after: datetime | None = None) -> ClientCert:
        """Issue (or re-issue) the client cert of `gateway_id` from the device CA."""
        issued = lib.issue_gateway(self.dir, gateway_id, days=days, not_valid_before=not_valid_before,
                                   not_valid_after=not_valid_after, overwrite=True)
        return ClientCert(issued.cert, issued.key, gateway_id)

    def issue_expired(self, gateway_id: str) -> ClientCert:
        """A cert for `gateway_id` that expired an hour ago (valid from two days ago until one hour ago)."""
        now = datetime.now(UTC)
        return self.issue(gateway_id, not_valid_before=now - timedelta(days=2),
                          not_valid_after=now - timedelta(hours=1))

    def revoke(self, gateway_id: str) -> list[int]:
        """Revoke every cert of `gateway_id` and rewrite the CRL. A running broker needs `reload()`/restart."""
        return lib.revoke_gateway(self.dir, gateway_id)

    @staticmethod
    def unique_gateway_id(prefix: str = "gw") -> str:
        """A fresh valid gateway id such as `paris-3f2a9c01de`, so tests never share topics."""
        return unique_id(prefix)
