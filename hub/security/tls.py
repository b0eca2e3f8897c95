"""HTTPS for the hub API: uvicorn keyword arguments from `[security]` settings.

With `tls_certfile` and `tls_keyfile` uvicorn serves HTTPS itself (TLS 1.2+, Python's secure defaults).
Without them the hub speaks plain HTTP and must sit behind a TLS-terminating proxy on the same host or a
private network; `forwarded_allow_ips` names the proxies whose X-Forwarded-For/-Proto headers are trusted
(so the audit log records the real client address).
"""

from __future__ import annotations

import ssl
from typing import Any

from hub._errors import ConfigError
from hub.security.settings import SecuritySettings


def uvicorn_tls_kwargs(settings: SecuritySettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}
    if settings.tls_certfile is None and settings.tls_keyfile is None:
        return kwargs
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        raise ConfigError("security.tls_keyfile", "HTTPS needs both tls_certfile and tls_keyfile")
    for name in ("tls_certfile", "tls_keyfile"):
        if not getattr(settings, name).is_file():
            raise ConfigError(f"security.{name}", f"no such file: {getattr(settings, name)}")
    _check_pair(settings)
    kwargs.update(ssl_certfile=str(settings.tls_certfile), ssl_keyfile=str(settings.tls_keyfile))
    return kwargs


def _check_pair(settings: SecuritySettings) -> None:
    """Fail at start, naming the field, if the certificate and key do not load together."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(settings.tls_certfile), str(settings.tls_keyfile))
    except (ssl.SSLError, OSError) as exc:
        reason = f"certificate and key do not load: {type(exc).__name__}"
        raise ConfigError("security.tls_certfile", reason) from None


def scheme(settings: SecuritySettings) -> str:
    return "https" if settings.tls_certfile is not None else "http"
