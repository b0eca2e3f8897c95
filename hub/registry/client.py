"""A small client of the hub API for the `vigie model` and `vigie rollout` commands.

Options shared by those commands: `--hub URL` (env `VIGIE_HUB_URL`), `--token` (env `VIGIE_TOKEN`: an API
token from `vigie hub user token`, or an access token), `--ca FILE` (env `VIGIE_HUB_CA`) for a hub served
over HTTPS with a private CA. HTTP answers map onto the CLI exit codes: 1 invalid (404, 409, 422),
3 configuration (401, 403: the credential), 4 runtime (unreachable hub, 5xx).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import httpx

F = TypeVar("F", bound=Callable[..., Any])
INVALID, CONFIG, RUNTIME = 1, 3, 4


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def api_options(func: F) -> F:
    """`--hub`, `--token`, `--ca`, passed to the command as `api: HubApi`."""

    @click.option("--hub", "hub_url", envvar="VIGIE_HUB_URL", default="http://127.0.0.1:8080", show_default=True,
                  help="Base URL of the hub API (env VIGIE_HUB_URL).")
    @click.option("--token", envvar="VIGIE_TOKEN", required=True,
                  help="Bearer token: an API token of a service account or an access token (env VIGIE_TOKEN).")
    @click.option("--ca", "ca_file", envvar="VIGIE_HUB_CA",
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="CA certificate of a hub served over HTTPS with a private CA (env VIGIE_HUB_CA).")
    @functools.wraps(func)
    def wrapper(hub_url: str, token: str, ca_file: Path | None, **kwargs: Any) -> Any:
        return func(api=HubApi(hub_url, token, ca_file), **kwargs)

    return wrapper  # type: ignore[return-value]


class HubApi:
    def __init__(self, url: str, token: str, ca_file: Path | None = None, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        verify: str | bool = str(ca_file) if ca_file else True
        self._client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s, verify=verify
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(RUNTIME, f"cannot reach the hub at {self.url}: {exc}") from None
        if response.status_code >= 400:
            status = response.status_code
            raise ApiError(_exit_code(status), f"hub answered {status}: {_detail(response)}")
        return response.json() if response.content else None


def _exit_code(status: int) -> int:
    if status in (401, 403):
        return CONFIG
    if status in (400, 404, 409, 413, 422):
        return INVALID
    return RUNTIME


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return str(detail)[:500]


def fail(code: int, message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def run(action: Callable[[], Any]) -> Any:
    """Run `action`, turning ApiError into its exit code."""
    try:
        return action()
    except ApiError as exc:
        fail(exc.code, exc.message)
