"""The Vigie PKI: certificates for Mosquitto mTLS, built on `cryptography` (ARCHITECTURE section 5).

Hierarchy (chosen deliberately)::

    Vigie Root CA                (pathlen 1; its key is only needed again to renew an intermediate:
    │                             it can be moved offline after `init_pki`)
    ├── Vigie Service CA          (pathlen 0, EKU serverAuth+clientAuth)
    │   ├── broker  CN=vigie-broker   server cert, SANs localhost, 127.0.0.1, ::1 and the given hosts
    │   └── hub     CN=vigie-hub      client cert of the hub ingest workers / API
    └── Vigie Device CA           (pathlen 0, EKU clientAuth only)
        └── gateway CN=<gateway id>   one client cert per site gateway

Why two intermediates rather than one CA: the device CA is the key that gets used routinely (every new
gateway, every renewal, every revocation), so it is the most exposed. Its EKU is limited to clientAuth,
so even a stolen device CA key cannot mint a server certificate that gateways or the hub would accept
as the broker, and the names it may issue are checked here (`RESERVED_NAMES` cannot be gateway ids, so
a gateway can never be issued the hub's MQTT identity). The service CA is used only at `init`.

How one Mosquitto `cafile` works with this chain: `ca.crt` is a bundle of the root and both
intermediates. Mosquitto (OpenSSL) builds the client's chain from it and still requires it to end at
the self-signed root (no partial chains), so pathlen and EKU limits of the intermediates keep applying,
and a certificate from any other CA is refused. Clients use the same bundle to verify the broker.

Revocation: Mosquitto's `crlfile` is checked for the leaf certificate only, and OpenSSL then needs a
CRL from the leaf's issuer, so `crl.pem` holds one CRL per intermediate (device CA: revoked gateways;
service CA: normally empty). A CRL has a `nextUpdate`: once it passes, every client is refused, so
`write_crl` (CLI: `vigie pki crl`) must be run before `crl_days` elapse. Mosquitto reads the file when
it starts: restart it (or reload with SIGHUP) after a revocation.

Private keys are ECDSA P-256, PEM PKCS#8, unencrypted (Mosquitto cannot prompt for a passphrase),
written with mode 0600 and never printed. Files in a PKI directory::

    root-ca.crt root-ca.key service-ca.crt service-ca.key device-ca.crt device-ca.key
    ca.crt (bundle) broker.crt broker.key hub.crt hub.key crl.pem index.json
    gateways/<gateway id>.crt gateways/<gateway id>.key
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from contracts import TopicError, write_atomic
from contracts.topics import validate_gateway_id
from vigie._errors import PkiError

HUB_CN = "vigie-hub"
BROKER_CN = "vigie-broker"
RESERVED_NAMES = frozenset({HUB_CN, BROKER_CN})
DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 825
DEFAULT_CRL_DAYS = 365
DEFAULT_SANS = ("localhost", "127.0.0.1", "::1")
_ORG = "Vigie"
_BACKDATE = timedelta(minutes=5)  # tolerate small clock skew between the PKI host and the broker
_DNS_NAME = re.compile(r"^(?=.{1,253}$)(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

Kind = Literal["broker", "hub", "gateway"]
PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class PkiPaths:
    """Where each file of a PKI directory lives."""

    root: Path

    @property
    def root_ca_cert(self) -> Path:
        return self.root / "root-ca.crt"

    @property
    def root_ca_key(self) -> Path:
        return self.root / "root-ca.key"

    @property
    def service_ca_cert(self) -> Path:
        return self.root / "service-ca.crt"

    @property
    def service_ca_key(self) -> Path:
        return self.root / "service-ca.key"

    @property
    def device_ca_cert(self) -> Path:
        return self.root / "device-ca.crt"

    @property
    def device_ca_key(self) -> Path:
        return self.root / "device-ca.key"

    @property
    def ca_bundle(self) -> Path:
        """Root + service CA + device CA: Mosquitto's `cafile` and the clients' trust anchors."""
        return self.root / "ca.crt"

    @property
    def broker_cert(self) -> Path:
        return self.root / "broker.crt"

    @property
    def broker_key(self) -> Path:
        return self.root / "broker.key"

    @property
    def hub_cert(self) -> Path:
        return self.root / "hub.crt"

    @property
    def hub_key(self) -> Path:
        return self.root / "hub.key"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"

    @property
    def index(self) -> Path:
        return self.root / "index.json"

    @property
    def gateways(self) -> Path:
        return self.root / "gateways"

    def gateway_cert(self, gateway_id: str) -> Path:
        return self.gateways / f"{gateway_id}.crt"

    def gateway_key(self, gateway_id: str) -> Path:
        return self.gateways / f"{gateway_id}.key"

    def required(self) -> tuple[Path, ...]:
        """Files that a complete PKI directory has."""
        return (self.root_ca_cert, self.root_ca_key, self.service_ca_cert, self.service_ca_key,
                self.device_ca_cert, self.device_ca_key, self.ca_bundle, self.broker_cert, self.broker_key,
                self.hub_cert, self.hub_key, self.crl, self.index)


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """One leaf certificate written to disk (the key file is 0600)."""

    common_name: str
    kind: Kind
    cert: Path
    key: Path
    serial: int
    not_valid_before: datetime
    not_valid_after: datetime

    def to_json(self) -> dict[str, Any]:
        return {"common_name": self.common_name, "kind": self.kind, "cert": str(self.cert), "key": str(self.key),
                "serial": f"{self.serial:x}", "not_valid_before": self.not_valid_before.isoformat(),
                "not_valid_after": self.not_valid_after.isoformat()}


@dataclass(frozen=True, slots=True)
class InitResult:
    """What `init_pki` did: `created` is False when a complete PKI was already there (nothing written)."""

    paths: PkiPaths
    created: bool
    broker_sans: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        p = self.paths
        return {"directory": str(p.root), "created": self.created, "broker_sans": list(self.broker_sans),
                "ca_bundle": str(p.ca_bundle), "crl": str(p.crl),
                "broker": {"cert": str(p.broker_cert), "key": str(p.broker_key)},
                "hub": {"cert": str(p.hub_cert), "key": str(p.hub_key), "common_name": HUB_CN}}


@dataclass(slots=True)
class IndexEntry:
    """One issued leaf certificate as recorded in `index.json`."""

    serial: int
    common_name: str
    kind: Kind
    not_valid_after: datetime
    revoked_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"serial": f"{self.serial:x}", "common_name": self.common_name, "kind": self.kind,
                "not_valid_after": self.not_valid_after.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> IndexEntry:
        revoked = raw.get("revoked_at")
        return cls(serial=int(raw["serial"], 16), common_name=str(raw["common_name"]), kind=raw["kind"],
                   not_valid_after=datetime.fromisoformat(raw["not_valid_after"]),
                   revoked_at=datetime.fromisoformat(revoked) if revoked else None)


@dataclass(slots=True)
class PkiIndex:
    """The PKI's record of issued certificates and the last CRL number."""

    entries: list[IndexEntry] = field(default_factory=list)
    crl_number: int = 0

    def active(self, common_name: str, now: datetime) -> list[IndexEntry]:
        """Entries for `common_name` that are neither revoked nor expired."""
        return [e for e in self.entries
                if e.common_name == common_name and e.revoked_at is None and e.not_valid_after > now]

    def to_bytes(self) -> bytes:
        doc = {"crl_number": self.crl_number, "certificates": [e.to_json() for e in self.entries]}
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PkiIndex:
        doc = json.loads(data)
        return cls(entries=[IndexEntry.from_json(e) for e in doc["certificates"]], crl_number=int(doc["crl_number"]))


@dataclass(frozen=True, slots=True)
class _Authority:
    cert: x509.Certificate
    key: PrivateKey


# ---------------------------------------------------------------------------------------------------------
# Pure builders (no I/O)
# ---------------------------------------------------------------------------------------------------------

def new_key() -> PrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG)]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def build_ca(common_name: str, key: PrivateKey, *, issuer: _Authority | None, path_length: int,
             ekus: Sequence[x509.ObjectIdentifier] | None, not_before: datetime, not_after: datetime
             ) -> x509.Certificate:
    """A CA certificate: self-signed when `issuer` is None, else signed by `issuer`."""
    subject = _name(common_name)
    signer_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(_key_usage(ca=True), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                              critical=False))
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def build_leaf(common_name: str, unit: str, key: PrivateKey, issuer: _Authority, *,
               eku: x509.ObjectIdentifier, sans: Sequence[x509.GeneralName] = (),
               not_before: datetime, not_after: datetime, serial: int | None = None) -> x509.Certificate:
    """An end-entity certificate for TLS (server when `eku` is serverAuth, client when clientAuth).

    Client certificates also carry their CN as a DNS SAN: RFC 5280 verifiers (e.g. `cryptography`'s,
    other brokers at scale-out) require a SAN; Mosquitto itself maps the CN to the MQTT username.
    """
    if not_after <= not_before:
        raise PkiError(f"not_valid_after ({not_after.isoformat()}) must be after not_valid_before")
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name, unit))
               .issuer_name(issuer.cert.subject)
               .public_key(key.public_key())
               .serial_number(serial if serial is not None else x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(ca=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def build_crl(issuer: _Authority, revoked: Iterable[tuple[int, datetime]], *, number: int, now: datetime,
              days: int) -> x509.CertificateRevocationList:
    """A CRL from `issuer` listing `(serial, revocation time)` pairs, valid `days` days from `now`."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.cert.subject)
               .last_update(now - _BACKDATE)
               .next_update(now + timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(issuer.key, hashes.SHA256())


def san_entries(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """SubjectAltName entries for the defaults plus `hosts` (IP literals become iPAddress entries)."""
    entries: list[x509.GeneralName] = []
    for host in dict.fromkeys([*DEFAULT_SANS, *hosts]):  # dedupe, keep order
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not _DNS_NAME.fullmatch(host):
                raise PkiError(f"invalid host name for the broker certificate: {host!r}") from None
            entries.append(x509.DNSName(host.lower()))
    return entries


def check_gateway_id(gateway_id: str) -> str:
    """Return `gateway_id` if it may be a gateway certificate CN, else raise PkiError."""
    try:
        validate_gateway_id(gateway_id)
    except TopicError as exc:
        raise PkiError(str(exc)) from None
    if gateway_id.lower() in RESERVED_NAMES:
        raise PkiError(f"{gateway_id!r} is reserved (it is the MQTT identity of a Vigie service)")
    return gateway_id


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


# ---------------------------------------------------------------------------------------------------------
# Operations on a PKI directory
# ---------------------------------------------------------------------------------------------------------

def init_pki(directory: Path, *, hosts: Sequence[str] = (), days: int = DEFAULT_LEAF_DAYS,
             ca_days: int = DEFAULT_CA_DAYS, crl_days: int = DEFAULT_CRL_DAYS, force: bool = False,
             now: datetime | None = None) -> InitResult:
    """Create the root, service and device CAs, the broker and hub certificates, an empty CRL and the index.

    Idempotent: on a complete PKI whose broker certificate already covers `hosts`, nothing is written and
    `created` is False. A partial PKI, or missing broker SANs, raise PkiError unless `force` is given;
    `force` replaces everything, including removing previously issued gateway certificates.
    """
    _check_days(days, ca_days, crl_days)
    paths = PkiPaths(Path(directory))
    sans = san_entries(hosts)
    wanted = tuple(_san_text(s) for s in sans)
    with _locked(paths, create=True):
        existing = [p for p in paths.required() if p.exists()]
        if existing and not force:
            return InitResult(paths, False, _check_existing(paths, existing, wanted))
        if force:
            shutil.rmtree(paths.gateways, ignore_errors=True)
        _create(paths, sans, days=days, ca_days=ca_days, crl_days=crl_days, now=now or _now())
    return InitResult(paths, True, wanted)


def issue_gateway(directory: Path, gateway_id: str, *, days: int = DEFAULT_LEAF_DAYS,
                  not_valid_before: datetime | None = None, not_valid_after: datetime | None = None,
                  overwrite: bool = False, now: datetime | None = None) -> IssuedCert:
    """Issue a client certificate with CN = `gateway_id`, signed by the device CA.

    Validity is `days` from now unless `not_valid_before` / `not_valid_after` are given explicitly
    (aware datetimes; both in the past makes an already-expired certificate, for tests).
    Refuses to replace a gateway that still has a valid, unrevoked certificate unless `overwrite`.
    """
    check_gateway_id(gateway_id)
    paths = _existing(directory)
    current = now or _now()
    start = not_valid_before or current - _BACKDATE
    end = not_valid_after or current + timedelta(days=_positive(days, "days"))
    with _locked(paths):
        index = _read_index(paths)
        if index.active(gateway_id, current) and not overwrite:
            raise PkiError(f"gateway {gateway_id!r} already has a valid certificate; use overwrite/--force to "
                           "replace it (the old one stays valid until revoked)")
        device = _load_authority(paths.device_ca_cert, paths.device_ca_key)
        key = new_key()
        cert = build_leaf(gateway_id, "gateways", key, device, eku=ExtendedKeyUsageOID.CLIENT_AUTH,
                          sans=[x509.DNSName(gateway_id)], not_before=_aware(start), not_after=_aware(end))
        write_atomic(paths.gateway_key(gateway_id), key_pem(key), mode=0o600)
        write_atomic(paths.gateway_cert(gateway_id), cert_pem(cert))
        index.entries.append(IndexEntry(cert.serial_number, gateway_id, "gateway", cert.not_valid_after_utc))
        write_atomic(paths.index, index.to_bytes())
    return IssuedCert(gateway_id, "gateway", paths.gateway_cert(gateway_id), paths.gateway_key(gateway_id),
                      cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc)


def revoke_gateway(directory: Path, gateway_id: str, *, crl_days: int = DEFAULT_CRL_DAYS,
                   now: datetime | None = None) -> list[int]:
    """Revoke every unrevoked certificate issued to `gateway_id` and rewrite `crl.pem`; return their serials.

    Raises PkiError when the gateway has no unrevoked certificate. Restart or SIGHUP Mosquitto afterwards.
    """
    check_gateway_id(gateway_id)
    paths = _existing(directory)
    current = now or _now()
    with _locked(paths):
        index = _read_index(paths)
        targets = [e for e in index.entries
                   if e.common_name == gateway_id and e.kind == "gateway" and e.revoked_at is None]
        if not targets:
            raise PkiError(f"no unrevoked certificate was issued to gateway {gateway_id!r} by this PKI")
        for entry in targets:
            entry.revoked_at = current
        _write_crl(paths, index, now=current, days=crl_days)
    return [e.serial for e in targets]


def write_crl(directory: Path, *, days: int = DEFAULT_CRL_DAYS, now: datetime | None = None) -> Path:
    """Regenerate `crl.pem` (e.g. before its `nextUpdate`); returns its path."""
    paths = _existing(directory)
    with _locked(paths):
        _write_crl(paths, _read_index(paths), now=now or _now(), days=_positive(days, "days"))
    return paths.crl


def read_index(directory: Path) -> PkiIndex:
    """The issued-certificate index of an existing PKI."""
    return _read_index(_existing(directory))


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate of a PEM file, with errors translated to PkiError."""
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read certificate {path}: {exc}") from None


def load_crls(path: Path) -> list[x509.CertificateRevocationList]:
    """Every CRL in a PEM file (`crl.pem` holds one per intermediate CA)."""
    try:
        data = Path(path).read_bytes()
        blocks = re.findall(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----\n?", data, re.DOTALL)
        return [x509.load_pem_x509_crl(block) for block in blocks]
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read CRL file {path}: {exc}") from None


# ---------------------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------------------

def _create(paths: PkiPaths, sans: list[x509.GeneralName], *, days: int, ca_days: int, crl_days: int,
            now: datetime) -> None:
    start = now - _BACKDATE
    ca_end, leaf_end = now + timedelta(days=ca_days), now + timedelta(days=days)
    root_key, service_key, device_key, broker_key, hub_key = (new_key() for _ in range(5))
    root = _Authority(build_ca("Vigie Root CA", root_key, issuer=None, path_length=1, ekus=None,
                               not_before=start, not_after=ca_end), root_key)
    service = _Authority(build_ca("Vigie Service CA", service_key, issuer=root, path_length=0,
                                  ekus=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                                  not_before=start, not_after=ca_end), service_key)
    device = _Authority(build_ca("Vigie Device CA", device_key, issuer=root, path_length=0,
                                 ekus=[ExtendedKeyUsageOID.CLIENT_AUTH], not_before=start, not_after=ca_end),
                        device_key)
    broker = build_leaf(BROKER_CN, "services", broker_key, service, eku=ExtendedKeyUsageOID.SERVER_AUTH,
                        sans=sans, not_before=start, not_after=leaf_end)
    hub = build_leaf(HUB_CN, "services", hub_key, service, eku=ExtendedKeyUsageOID.CLIENT_AUTH,
                     sans=[x509.DNSName(HUB_CN)], not_before=start, not_after=leaf_end)
    for path, key in ((paths.root_ca_key, root_key), (paths.service_ca_key, service_key),
                      (paths.device_ca_key, device_key), (paths.broker_key, broker_key), (paths.hub_key, hub_key)):
        write_atomic(path, key_pem(key), mode=0o600)
    write_atomic(paths.root_ca_cert, cert_pem(root.cert))
    write_atomic(paths.service_ca_cert, cert_pem(service.cert))
    write_atomic(paths.device_ca_cert, cert_pem(device.cert))
    write_atomic(paths.ca_bundle, cert_pem(root.cert, service.cert, device.cert))
    write_atomic(paths.broker_cert, cert_pem(broker, service.cert))  # leaf + chain: clients may trust root only
    write_atomic(paths.hub_cert, cert_pem(hub))
    index = PkiIndex([IndexEntry(broker.serial_number, BROKER_CN, "broker", broker.not_valid_after_utc),
                      IndexEntry(hub.serial_number, HUB_CN, "hub", hub.not_valid_after_utc)])
    _write_crl(paths, index, now=now, days=crl_days, authorities=(device, service))


def _write_crl(paths: PkiPaths, index: PkiIndex, *, now: datetime, days: int,
               authorities: tuple[_Authority, _Authority] | None = None) -> None:
    device, service = authorities or (_load_authority(paths.device_ca_cert, paths.device_ca_key),
                                      _load_authority(paths.service_ca_cert, paths.service_ca_key))
    index.crl_number += 1
    revoked = [e for e in index.entries if e.revoked_at is not None]
    crls = [build_crl(device, [(e.serial, e.revoked_at) for e in revoked if e.kind == "gateway" and e.revoked_at],
                      number=index.crl_number, now=now, days=days),
            build_crl(service, [(e.serial, e.revoked_at) for e in revoked if e.kind != "gateway" and e.revoked_at],
                      number=index.crl_number, now=now, days=days)]
    write_atomic(paths.crl, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls))
    write_atomic(paths.index, index.to_bytes())


def _check_existing(paths: PkiPaths, existing: list[Path], wanted: tuple[str, ...]) -> tuple[str, ...]:
    missing = [p.name for p in paths.required() if p not in existing]
    if missing:
        raise PkiError(f"{paths.root} holds an incomplete PKI (missing {', '.join(missing)}); "
                       "use --force to replace it")
    have = _broker_sans(paths)
    lacking = [s for s in wanted if s not in have]
    if lacking:
        raise PkiError(f"the existing broker certificate lacks {', '.join(lacking)}; use --force to recreate the "
                       "PKI (this invalidates every issued certificate)")
    return have


def _broker_sans(paths: PkiPaths) -> tuple[str, ...]:
    cert = load_certificate(paths.broker_cert)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(_san_text(s) for s in ext.value)


def _san_text(entry: x509.GeneralName) -> str:
    return str(entry.value)


def _existing(directory: Path) -> PkiPaths:
    paths = PkiPaths(Path(directory))
    missing = [p.name for p in paths.required() if not p.exists()]
    if missing:
        raise PkiError(f"{paths.root} is not a complete Vigie PKI (missing {', '.join(missing)}); "
                       "run `vigie pki init` first")
    return paths


def _read_index(paths: PkiPaths) -> PkiIndex:
    try:
        return PkiIndex.from_bytes(paths.index.read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PkiError(f"cannot read {paths.index}: {exc}") from None


def _load_authority(cert_path: Path, key_path: Path) -> _Authority:
    cert = load_certificate(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise PkiError(f"cannot read private key {key_path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{key_path} is not an EC private key")
    return _Authority(cert, key)


@contextlib.contextmanager
def _locked(paths: PkiPaths, *, create: bool = False) -> Iterator[None]:
    """Serialise writers of one PKI directory (two `vigie pki issue` at once must not lose an index entry)."""
    try:
        if create:
            paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = (paths.root / ".lock").open("a")
    except OSError as exc:
        raise PkiError(f"cannot use PKI directory {paths.root}: {exc}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        except OSError as exc:
            raise PkiError(f"cannot write in {paths.root}: {exc}") from None


def _check_days(*values: int) -> None:
    for value in values:
        _positive(value, "days")


def _positive(value: int, what: str) -> int:
    if value <= 0:
        raise PkiError(f"{what} must be positive, got {value}")
    return value


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)
