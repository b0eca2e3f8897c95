"""Settings of the security layer: the `[security]` section of the hub settings (`VIGIE_HUB_SECURITY__...`).

Secrets come from the environment or from files only, are `SecretStr` (masked in dumps and logs), and have
no default outside dev mode.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from hub._errors import ConfigError
from hub.audit.witness import DEFAULT_MQTT_TOPIC

DEV_PASSWORDS = frozenset({"", "vigie", "vigie-dev", "changeme", "change-me", "password", "admin", "secret"})


class SecuritySettings(BaseModel):
    jwt_key_file: Path | None = None
    """Ed25519 private key (PEM) that signs API tokens. Dev default: `<data_dir>/keys/jwt-ed25519.pem`."""
    jwt_key: SecretStr = SecretStr("")
    """The same key inline (PEM text), e.g. from `VIGIE_HUB_SECURITY__JWT_KEY`; not together with the file."""
    jwt_accepted_key_files: list[Path] = Field(default_factory=list)
    """Older keys (public or private PEM) whose tokens are still accepted, by kid, during a rotation."""
    issuer: str = Field("vigie-hub", min_length=1)
    audience: str = Field("vigie-api", min_length=1)
    access_ttl_s: int = Field(900, ge=30, le=3600)
    refresh_ttl_s: int = Field(8 * 3600, ge=60, le=30 * 86400)
    leeway_s: int = Field(10, ge=0, le=120)

    login_max_failures: int = Field(5, ge=1)
    """Failed logins of one user (or from one address) before it is locked for `login_lockout_s`."""
    login_lockout_s: int = Field(300, ge=1)

    bootstrap_admin: str = ""
    """If set and absent from the database, created at start as admin with `bootstrap_admin_password`."""
    bootstrap_admin_password: SecretStr = SecretStr("")

    audit_key_file: Path | None = None
    """Ed25519 private key that signs audit checkpoints. Dev default: `<data_dir>/keys/audit-ed25519.pem`."""
    audit_key: SecretStr = SecretStr("")
    audit_origin: str = Field("vigie-hub", min_length=1, max_length=128)
    """Name of this log in its checkpoints (one per hub deployment)."""
    checkpoint_every_entries: int = Field(256, ge=1)
    checkpoint_every_s: float = Field(60.0, gt=0)
    witness_file: Path | None = None
    """Append-only file that receives every checkpoint. Dev default: `<data_dir>/audit-witness.jsonl`."""
    witness_mqtt: bool = False
    """Also publish each checkpoint as a retained MQTT message (own connection, the hub's MQTT identity)."""
    witness_mqtt_topic: str = DEFAULT_MQTT_TOPIC

    tls_certfile: Path | None = None
    """Serve HTTPS with this certificate chain (PEM) and `tls_keyfile`; else plain HTTP behind a TLS proxy."""
    tls_keyfile: Path | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-For/Proto are trusted (uvicorn `forwarded_allow_ips`)."""

    def resolved_witness_file(self, data_dir: Path) -> Path:
        return self.witness_file or data_dir / "audit-witness.jsonl"


def security_problems(settings: SecuritySettings, production: bool) -> list[ConfigError]:
    """Settings that cannot work (any mode) or are insecure (production), each naming its field."""
    problems: list[ConfigError] = []
    if (settings.tls_certfile is None) != (settings.tls_keyfile is None):
        problems.append(ConfigError("security.tls_keyfile", "HTTPS needs both tls_certfile and tls_keyfile"))
    if settings.bootstrap_admin and not settings.bootstrap_admin_password.get_secret_value():
        problems.append(ConfigError("security.bootstrap_admin_password", "bootstrap_admin needs a password"))
    if not production:
        return problems
    for name in ("jwt", "audit"):
        if getattr(settings, f"{name}_key_file") is None and not getattr(settings, f"{name}_key").get_secret_value():
            problems.append(ConfigError(f"security.{name}_key_file", "production needs an Ed25519 key (no default)"))
    if settings.bootstrap_admin and settings.bootstrap_admin_password.get_secret_value() in DEV_PASSWORDS:
        problems.append(ConfigError("security.bootstrap_admin_password", "development password not allowed"))
    if settings.witness_file is None and not settings.witness_mqtt:
        problems.append(ConfigError("security.witness_file", "production needs a witness outside the database"))
    return problems
