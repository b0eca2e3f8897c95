"""The security layer of one hub: keys, token service, users, login throttle and the audit log.

`build_keys` runs when the app is created (so production refuses to start without keys); `open_security`
runs in the lifespan, once the hub's engine exists, and `app.state.security` holds the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from contracts.signing import key_id
from hub._errors import Conflict
from hub.audit.store import AuditLog
from hub.audit.witness import FileWitness, Witness
from hub.security.keys import KeyRing, load_public_keys, resolve_private_key
from hub.security.roles import Role
from hub.security.settings import SecuritySettings, security_problems
from hub.security.throttle import LoginThrottle
from hub.security.tokens import TokenService
from hub.security.users import UserStore

log = logging.getLogger("hub.security")


@dataclass(frozen=True)
class HubKeys:
    jwt: KeyRing
    audit: Ed25519PrivateKey

    @property
    def audit_kid(self) -> str:
        return key_id(self.audit.public_key())

    def __repr__(self) -> str:
        return f"HubKeys(jwt={self.jwt!r}, audit={self.audit_kid})"


@dataclass
class SecurityContext:
    settings: SecuritySettings
    keys: HubKeys
    tokens: TokenService
    users: UserStore
    audit: AuditLog
    throttle: LoginThrottle
    closers: list[Callable[[], None]] = field(default_factory=list)


def build_keys(settings: SecuritySettings, data_dir: Path, production: bool) -> HubKeys:
    """Load (dev: create once) the JWT and audit keys; raise ConfigError on any problem."""
    problems = security_problems(settings, production)
    if problems:
        raise problems[0]
    keys_dir = data_dir / "keys"
    jwt_key = resolve_private_key(field="security.jwt_key", pem=settings.jwt_key.get_secret_value(),
                                  file=settings.jwt_key_file, production=production,
                                  dev_path=keys_dir / "jwt-ed25519.pem")
    audit_key = resolve_private_key(field="security.audit_key", pem=settings.audit_key.get_secret_value(),
                                    file=settings.audit_key_file, production=production,
                                    dev_path=keys_dir / "audit-ed25519.pem")
    accepted = load_public_keys(settings.jwt_accepted_key_files, "security.jwt_accepted_key_files")
    return HubKeys(jwt=KeyRing(jwt_key, accepted), audit=audit_key)


def open_security(
    settings: SecuritySettings,
    keys: HubKeys,
    engine: Engine,
    data_dir: Path,
    witnesses: list[Witness] | None = None,
    mqtt_settings: Any = None,
) -> SecurityContext:
    """Users, tokens and the audit log over `engine`; with `witness_mqtt`, a broker connection for the witness."""
    closers: list[Callable[[], None]] = []
    witnesses = list(witnesses or [])
    if settings.witness_mqtt and mqtt_settings is not None:
        from hub.audit.mqtt import PahoWitnessConnection

        connection = PahoWitnessConnection(mqtt_settings, settings.witness_mqtt_topic)
        connection.start()
        witnesses.append(connection.witness())
        closers.append(connection.stop)
    tokens = TokenService(keys.jwt, issuer=settings.issuer, audience=settings.audience,
                          access_ttl_s=settings.access_ttl_s, refresh_ttl_s=settings.refresh_ttl_s,
                          leeway_s=settings.leeway_s)
    all_witnesses: list[Witness] = [FileWitness(settings.resolved_witness_file(data_dir)), *witnesses]
    audit = AuditLog(engine, origin=settings.audit_origin, signer=keys.audit, witnesses=all_witnesses,
                     every_entries=settings.checkpoint_every_entries, every_s=settings.checkpoint_every_s)
    context = SecurityContext(settings, keys, tokens, UserStore(engine), audit,
                              LoginThrottle(settings.login_max_failures, settings.login_lockout_s), closers)
    _bootstrap_admin(context)
    for purpose, kid in (("jwt", keys.jwt.signing_kid), ("audit", keys.audit_kid)):
        audit.append("key.use", "hub", "", {"purpose": purpose, "kid": kid, "event": "loaded"})
    audit.start()
    return context


def close_security(context: SecurityContext) -> None:
    context.audit.stop()  # signs a final checkpoint, published to every witness
    for close in context.closers:
        close()


def _bootstrap_admin(context: SecurityContext) -> None:
    name = context.settings.bootstrap_admin
    if not name or context.users.get(name) is not None:
        return
    try:
        context.users.add(name, Role.ADMIN, context.settings.bootstrap_admin_password.get_secret_value())
    except Conflict:  # another hub process created it first
        return
    context.audit.append("user.add", "hub", "", {"user": name, "role": Role.ADMIN.value, "kind": "human",
                                                 "via": "bootstrap"})
    log.info("bootstrap admin created", extra={"user": name})


def security_of(app: Any) -> SecurityContext | None:
    security = getattr(app.state, "security", None)
    return security if isinstance(security, SecurityContext) else None


def audit_event(request_or_app: Any, type: str, data: dict[str, Any]) -> None:
    """Record a state change (model publish, rollout step, forced action...) by the request's principal.

    `request_or_app` is a Request (actor = its principal) or the app (actor = "hub"). No-op if the security
    layer is not installed. Never put secrets in `data`.
    """
    from hub.security.deps import Principal

    app = getattr(request_or_app, "app", request_or_app)
    security = security_of(app)
    if security is None:
        return
    state = getattr(request_or_app, "state", None)
    principal = getattr(state, "principal", None) if state is not None else None
    if isinstance(principal, Principal):
        security.audit.append(type, principal.subject, principal.role.value, data)
    else:
        security.audit.append(type, "hub", "", data)
