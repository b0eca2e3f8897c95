"""Plug model distribution, the registry and the rollout controller into the hub app: one call in
`create_app`, after `install_security` (the controller appends to the audit log the security layer opens).

    install_rollout(app, settings)

It includes the `/api/v1/models` and `/api/v1/rollouts` routers, mounts the TUF repository at `/tuf`
(`/tuf/metadata/`, `/tuf/targets/`) and wraps the lifespan: once the hub and its security layer are up,
it opens the repository (development: creates it), the registry and, when `rollout.enabled`, the desired
state publisher and the controller thread (which also keeps the TUF metadata fresh).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from hub.distribution.app import distribution_app
from hub.distribution.service import open_repository, paths
from hub.registry.api import router as models_router
from hub.registry.service import Registry, release_keys_from
from hub.rollout.api import router as rollouts_router
from hub.rollout.controller import Actor, PeriodicJob, RolloutController
from hub.rollout.gates import load_gate_config
from hub.rollout.publisher import MqttDesiredPublisher
from hub.settings import HubSettings

log = logging.getLogger("hub.rollout")


@dataclass
class _Running:
    publisher: MqttDesiredPublisher | None = None
    controller: RolloutController | None = None


def install_rollout(app: FastAPI, settings: HubSettings) -> None:
    app.include_router(models_router)
    app.include_router(rollouts_router)
    repo_dir, _keys = paths(settings.distribution, settings.data_dir)
    app.mount("/tuf", distribution_app(repo_dir))
    inner: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            running = open_rollout(application, settings)
            try:
                yield state
            finally:
                close_rollout(running)

    app.router.lifespan_context = lifespan


def open_rollout(app: Any, settings: HubSettings) -> _Running:
    context = app.state.hub
    repo = open_repository(settings.distribution, settings.data_dir, production=settings.mode == "production")
    registry = Registry(context.engine, repo, release_keys_from(settings.registry))
    app.state.registry = registry
    app.state.registry_max_bytes = settings.registry.max_bundle_mb * 1024 * 1024
    if not settings.rollout.enabled:
        return _Running()
    publisher = MqttDesiredPublisher(settings.mqtt, settings.rollout.publish_timeout_s)
    gates_file = settings.rollout.gates_file
    controller = RolloutController(
        context.engine, context.store, registry, publisher, _audit_to(app), settings.rollout,
        default_gates=load_gate_config(gates_file) if gates_file else None,
    )
    controller.jobs.append(PeriodicJob(settings.distribution.refresh_s, repo.refresh, "tuf-refresh"))
    publisher.start()
    controller.start()
    app.state.rollouts = controller
    log.info("rollout controller started", extra={"repo": str(repo.path), "tick_s": settings.rollout.tick_s})
    return _Running(publisher, controller)


def close_rollout(running: _Running) -> None:
    if running.controller is not None:
        running.controller.stop()
    if running.publisher is not None:
        running.publisher.stop()


def _audit_to(app: Any) -> Callable[[str, Actor, dict[str, Any]], None]:
    from hub.security.service import security_of

    def audit(kind: str, actor: Actor, data: dict[str, Any]) -> None:
        security = security_of(app)
        if security is not None:
            security.audit.append(kind, actor.name, actor.role, data)

    return audit
