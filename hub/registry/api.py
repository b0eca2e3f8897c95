"""`/api/v1/models`: publish a bundle (operator; the body is the .tar), list and show (reader), deprecate
(operator). Every change is an audit entry."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub._errors import ConfigError
from hub.api.deps import READER
from hub.registry._errors import InvalidBundle
from hub.registry.service import ModelVersion, Registry, to_model_version
from hub.security.deps import Principal, require_role
from hub.security.roles import Role
from hub.security.service import audit_event

router = APIRouter(prefix="/api/v1/models", tags=["models"], dependencies=[READER])
OperatorDep = Annotated[Principal, Depends(require_role(Role.OPERATOR))]


class ModelVersionDetail(ModelVersion):
    manifest: dict[str, Any]


class DeprecateRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


def registry_of(request: Request) -> Registry:
    registry = getattr(request.app.state, "registry", None)
    if not isinstance(registry, Registry):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the model registry is not running on this hub")
    return registry


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra={"requestBody": {
    "required": True, "description": "the signed bundle as a .tar (model.onnx, manifest.json, manifest.sig)",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}, responses={
    200: {"description": "these exact bytes were published already"},
    409: {"description": "this version was published with other bytes"},
    413: {"description": "bundle larger than registry.max_bundle_mb"},
    422: {"description": "invalid bundle (layout, release signature, digest or version)"},
    503: {"description": "the registry has no pinned release key (registry.release_keys)"},
})
async def publish(request: Request, response: Response, principal: OperatorDep) -> ModelVersion:
    """Publish the bundle .tar in the body. 201: published; 200: these exact bytes were published already."""
    registry = registry_of(request)
    limit = request.app.state.registry_max_bytes
    path = await _receive(request, registry.repo.path / "incoming", limit)
    try:
        version, created = await run_in_threadpool(registry.publish, path, principal.subject)
    except InvalidBundle as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid bundle: {exc}") from None
    except ConfigError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if not created:
        response.status_code = status.HTTP_200_OK
    audit_event(request, "model.publish", {"model": version.name, "version": version.version,
                                           "sha256": version.bundle_sha256, "signer": version.signer_keyid,
                                           "created": created})
    return version


async def _receive(request: Request, directory: Path, limit: int) -> Path:
    """Stream the body to a temporary file, refusing more than `limit` bytes (413)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=directory, suffix=".upload", delete=False)  # noqa: SIM115
    received = 0
    with handle:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                handle.close()
                Path(handle.name).unlink()
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"bundle larger than {limit} bytes")
            handle.write(chunk)
    return Path(handle.name)


@router.get("")
def index(request: Request, name: str | None = None) -> list[ModelVersion]:
    return registry_of(request).list(name)


@router.get("/{name}/{version}")
def show(name: str, version: str, request: Request) -> ModelVersionDetail:
    record = registry_of(request).get(name, version)
    return ModelVersionDetail(**to_model_version(record).model_dump(), manifest=record.manifest)


@router.post("/{name}/{version}/deprecate")
def deprecate(
    name: str, version: str, body: DeprecateRequest, request: Request, principal: OperatorDep
) -> ModelVersion:
    result = registry_of(request).deprecate(name, version, body.reason)
    audit_event(request, "model.deprecate", {"model": name, "version": version, "reason": body.reason})
    return result
