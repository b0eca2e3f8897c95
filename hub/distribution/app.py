"""Serving the TUF repository: static files under `/metadata` and `/targets`, for the hub to mount.

    app.mount("/tuf", distribution_app(repo_dir))

Agents then use `<hub>/tuf/metadata/` and `<hub>/tuf/targets/`. The files need no authentication: their
integrity and freshness come from the signatures, and bundles carry no secrets. Metadata is served with
`Cache-Control: no-store` so that no cache between the hub and an agent can freeze it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class _NoStoreFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-store"
        return response


def distribution_app(repo_dir: Path) -> Starlette:
    """An ASGI app serving `repo_dir/metadata` and `repo_dir/targets` (directories may appear later)."""
    return Starlette(
        routes=[
            Mount("/metadata", app=_NoStoreFiles(directory=repo_dir / "metadata", check_dir=False)),
            Mount("/targets", app=StaticFiles(directory=repo_dir / "targets", check_dir=False)),
        ]
    )
