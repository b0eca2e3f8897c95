"""The technician dashboard: static HTML, CSS and vanilla JS served by the hub itself at `/ui/`.

Plants are often air-gapped, so the page loads nothing from anywhere else (no CDN, web fonts or
analytics), and its Content-Security-Policy forbids it. It reads the JSON API under `/api/v1` with the
bearer token it gets from the OAuth2 password endpoint (kept in sessionStorage: gone with the tab). The
files are public -- they hold no data -- which is why `/ui` is one of the security layer's public mounts;
every API call the page makes is guarded and audited like any other.

    install_web(app)        # in create_app
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
MOUNT_PATH = "/ui"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-cache"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
"""`no-cache`: the browser revalidates (ETag) so that a hub upgrade is picked up at the next load."""


class SecurityHeaders:
    """ASGI wrapper that adds `HEADERS` to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _value in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_web(app: FastAPI, directory: Path = STATIC_DIR) -> None:
    """Mount the dashboard at `/ui` (`/ui` redirects to `/ui/`, which serves `index.html`)."""
    app.mount(MOUNT_PATH, SecurityHeaders(StaticFiles(directory=directory, html=True)), name="ui")
