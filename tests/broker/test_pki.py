"""Unit tests of `vigie.pki` and `vigie pki` (no services): files, modes, SANs, chain, CN rules, CRL."""

from __future__ import annotations

import ipaddress
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from vigie import pki
from vigie._errors import PkiError, VigieError
from vigie.cli import cli


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _ec_key(cert_path: Path) -> ec.EllipticCurvePublicKey:
    key = pki.load_certificate(cert_path).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    pki.init_pki(tmp_path / "pki", hosts=("broker.site.example", "10.1.2.3"))
    return tmp_path / "pki"


def test_init_writes_every_file_with_private_keys_0600(pki_dir: Path) -> None:
    paths = pki.PkiPaths(pki_dir)
    for path in paths.required():
        assert path.is_file(), path
    keys = [paths.root_ca_key, paths.service_ca_key, paths.device_ca_key, paths.broker_key, paths.hub_key]
    for key in keys:
        assert _mode(key) == 0o600, key
    assert _mode(paths.broker_cert) == 0o644
    issued = pki.issue_gateway(pki_dir, "paris-gw1")
    assert _mode(issued.key) == 0o600
    assert not [p for p in pki_dir.rglob("*") if p.name.startswith(".") and p.name != ".lock"]  # no temp files


def test_broker_cert_has_default_and_extra_sans(pki_dir: Path) -> None:
    cert = pki.load_certificate(pki.PkiPaths(pki_dir).broker_cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "broker.site.example"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"), ipaddress.ip_address("10.1.2.3")}
    assert _ekus(cert) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_hierarchy_device_ca_is_client_only_and_hub_is_a_service_cert(pki_dir: Path) -> None:
    paths = pki.PkiPaths(pki_dir)
    root, service, device = (pki.load_certificate(p) for p in
                             (paths.root_ca_cert, paths.service_ca_cert, paths.device_ca_cert))
    hub = pki.load_certificate(paths.hub_cert)
    assert device.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert _ekus(device) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    device.verify_directly_issued_by(root)
    service.verify_directly_issued_by(root)
    hub.verify_directly_issued_by(service)
    assert _cn(hub) == "vigie-hub" and _ekus(hub) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    bundle = x509.load_pem_x509_certificates(paths.ca_bundle.read_bytes())
    assert [_cn(c) for c in bundle] == ["Vigie Root CA", "Vigie Service CA", "Vigie Device CA"]


def test_gateway_cert_chains_to_root_through_device_ca(pki_dir: Path) -> None:
    paths = pki.PkiPaths(pki_dir)
    issued = pki.issue_gateway(pki_dir, "lyon-gw-7", days=10)
    cert = pki.load_certificate(issued.cert)
    assert _cn(cert) == "lyon-gw-7"
    assert _ekus(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(pki.load_certificate(paths.device_ca_cert))
    verifier = (PolicyBuilder().store(Store([pki.load_certificate(paths.root_ca_cert)]))
                .build_client_verifier())
    verified = verifier.verify(cert, [pki.load_certificate(paths.device_ca_cert)])
    assert verified.chain[-1].subject == pki.load_certificate(paths.root_ca_cert).subject
    assert timedelta(days=9) < issued.not_valid_after - datetime.now(UTC) <= timedelta(days=10)


@pytest.mark.parametrize("bad", ["", "-paris", "paris-", "paris/gw", "paris+", "#", "par is", "gw_1", "é",
                                 "a" * 65, "vigie-hub", "VIGIE-HUB", "vigie-broker"])
def test_issue_rejects_invalid_or_reserved_gateway_ids(pki_dir: Path, bad: str) -> None:
    with pytest.raises(PkiError):
        pki.issue_gateway(pki_dir, bad)
    assert not list(pki.PkiPaths(pki_dir).gateways.glob("*.crt"))


def test_issue_refuses_duplicate_unless_overwrite(pki_dir: Path) -> None:
    first = pki.issue_gateway(pki_dir, "paris-gw1")
    with pytest.raises(PkiError, match="already has a valid certificate"):
        pki.issue_gateway(pki_dir, "paris-gw1")
    second = pki.issue_gateway(pki_dir, "paris-gw1", overwrite=True)
    assert second.serial != first.serial
    assert [e.serial for e in pki.read_index(pki_dir).entries if e.common_name == "paris-gw1"] == [
        first.serial, second.serial]


def test_issue_with_explicit_validity_can_make_an_expired_cert(pki_dir: Path) -> None:
    now = datetime.now(UTC)
    issued = pki.issue_gateway(pki_dir, "old-gw", not_valid_before=now - timedelta(days=3),
                               not_valid_after=now - timedelta(days=1))
    assert issued.not_valid_after < now
    # an expired cert does not count as "valid": issuing again needs no overwrite
    pki.issue_gateway(pki_dir, "old-gw")
    with pytest.raises(PkiError, match="must be after"):
        pki.issue_gateway(pki_dir, "bad-window", not_valid_before=now, not_valid_after=now - timedelta(seconds=1))


def test_revoke_lists_serial_in_device_ca_crl_only(pki_dir: Path) -> None:
    paths = pki.PkiPaths(pki_dir)
    keep = pki.issue_gateway(pki_dir, "keep-gw")
    gone = pki.issue_gateway(pki_dir, "gone-gw")
    number_before = pki.read_index(pki_dir).crl_number
    assert pki.revoke_gateway(pki_dir, "gone-gw") == [gone.serial]
    device_crl, service_crl = pki.load_crls(paths.crl)
    assert device_crl.issuer == pki.load_certificate(paths.device_ca_cert).subject
    assert device_crl.is_signature_valid(_ec_key(paths.device_ca_cert))
    assert service_crl.is_signature_valid(_ec_key(paths.service_ca_cert))
    assert device_crl.get_revoked_certificate_by_serial_number(gone.serial) is not None
    assert device_crl.get_revoked_certificate_by_serial_number(keep.serial) is None
    assert len(service_crl) == 0
    assert device_crl.next_update_utc is not None and device_crl.next_update_utc > datetime.now(UTC)
    crl_number = device_crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert crl_number == number_before + 1
    with pytest.raises(PkiError, match="no unrevoked certificate"):
        pki.revoke_gateway(pki_dir, "gone-gw")
    with pytest.raises(PkiError):
        pki.revoke_gateway(pki_dir, "never-issued")


def test_write_crl_keeps_revocations_and_extends_validity(pki_dir: Path) -> None:
    gone = pki.issue_gateway(pki_dir, "gone-gw")
    pki.revoke_gateway(pki_dir, "gone-gw", crl_days=1)
    pki.write_crl(pki_dir, days=90)
    device_crl, _ = pki.load_crls(pki.PkiPaths(pki_dir).crl)
    assert device_crl.get_revoked_certificate_by_serial_number(gone.serial) is not None
    assert device_crl.next_update_utc is not None
    assert device_crl.next_update_utc - datetime.now(UTC) > timedelta(days=89)


def test_init_is_idempotent_and_refuses_to_overwrite(pki_dir: Path) -> None:
    paths = pki.PkiPaths(pki_dir)
    before = {p: p.read_bytes() for p in paths.required()}
    result = pki.init_pki(pki_dir, hosts=("broker.site.example",))
    assert result.created is False
    assert {p: p.read_bytes() for p in paths.required()} == before
    with pytest.raises(PkiError, match="lacks"):
        pki.init_pki(pki_dir, hosts=("other.example",))
    pki.issue_gateway(pki_dir, "paris-gw1")
    paths.hub_key.unlink()
    with pytest.raises(PkiError, match="incomplete"):
        pki.init_pki(pki_dir)
    assert pki.init_pki(pki_dir, force=True).created is True
    assert paths.root_ca_cert.read_bytes() != before[paths.root_ca_cert]
    assert not paths.gateway_cert("paris-gw1").exists()


def test_operations_on_a_missing_pki_raise_pki_error(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="vigie pki init"):
        pki.issue_gateway(tmp_path, "paris-gw1")
    with pytest.raises(VigieError):
        pki.revoke_gateway(tmp_path, "paris-gw1")
    with pytest.raises(PkiError, match="invalid host"):
        pki.init_pki(tmp_path / "x", hosts=("bad host!",))


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_help_explains_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["pki", "--help"])
    assert result.exit_code == 0
    for word in ("init", "issue", "revoke", "crl", "Device CA", "0600"):
        assert word in result.output
    assert runner.invoke(cli, ["pki", "issue", "--help"]).exit_code == 0


def test_cli_init_issue_revoke_json_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    d = str(tmp_path / "pki")
    first = runner.invoke(cli, ["pki", "init", d, "--host", "gw.example", "--json"])
    assert first.exit_code == 0, first.output
    doc = json.loads(first.output)
    assert doc["created"] is True and "gw.example" in doc["broker_sans"]
    assert "PRIVATE KEY" not in first.output
    again = runner.invoke(cli, ["pki", "init", d, "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["created"] is False
    assert runner.invoke(cli, ["pki", "init", d, "--host", "new.example"]).exit_code == 3

    issued = runner.invoke(cli, ["pki", "issue", d, "paris-gw1", "--days", "5", "--json"])
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.output)["common_name"] == "paris-gw1"
    assert "PRIVATE KEY" not in issued.output
    assert runner.invoke(cli, ["pki", "issue", d, "paris-gw1"]).exit_code == 3
    assert runner.invoke(cli, ["pki", "issue", d, "paris_gw1"]).exit_code == 2
    assert runner.invoke(cli, ["pki", "issue", d, "vigie-hub"]).exit_code == 2

    revoked = runner.invoke(cli, ["pki", "revoke", d, "paris-gw1", "--json"])
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.output)["revoked_serials"] == [json.loads(issued.output)["serial"]]
    assert runner.invoke(cli, ["pki", "revoke", d, "paris-gw1"]).exit_code == 3
    assert runner.invoke(cli, ["pki", "crl", d, "--days", "30"]).exit_code == 0
    assert runner.invoke(cli, ["pki", "issue", str(tmp_path / "none"), "gw"]).exit_code == 3
