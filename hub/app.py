"""FastAPI application factory; the lifespan opens the database and series store and runs ingest.

In-process use (tests, `vigie demo`):

    app = create_app(settings)                  # then uvicorn, or `with TestClient(app) as client:`
    with HubServer(settings) as server:         # uvicorn in a thread; server.url is http://host:port
        ...

As a subprocess: `vigie hub serve --config hub.toml` (SIGTERM stops it cleanly).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from hub._errors import Conflict, DatabaseError, HubError, NotFound, StoreError, StoreRejected
from hub.api.context import HubContext
from hub.api.main import api_router
from hub.api.routes import health
from hub.drift.api import router as drift_router  # drift monitor (hub/drift)
from hub.metrics import HubMetrics
from hub.rollout.install import install_rollout
from hub.security.install import install_security
from hub.security.tls import scheme, uvicorn_tls_kwargs
from hub.settings import HubSettings, check_production
from hub.web import install_web  # technician dashboard (hub/web)

log = logging.getLogger("hub")


def create_app(settings: HubSettings, metrics: HubMetrics | None = None) -> FastAPI:
    """The hub app. Raises ConfigError at once if production mode finds insecure settings."""
    check_production(settings)
    metrics = metrics or HubMetrics()
    docs = settings.api.docs
    app = FastAPI(
        title="Vigie hub",
        version="1",
        lifespan=_lifespan(settings, metrics),
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.include_router(health.router)
    app.include_router(api_router)
    install_security(app, settings)  # security layer: login, role guard check, audit log (hub/security/install.py)
    install_rollout(app, settings)  # model lifecycle: /tuf, /api/v1/models, /api/v1/rollouts (hub/rollout/install.py)
    app.include_router(drift_router)  # drift monitor: GET /api/v1/drift (hub/drift/api.py)
    install_web(app)  # technician dashboard: static files at /ui/ (hub/web)
    _add_error_handlers(app)
    app.middleware("http")(_observe(metrics))
    return app


def _lifespan(settings: HubSettings, metrics: HubMetrics) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = open_context(settings, metrics)
        app.state.hub = context
        try:
            if context.ingest is not None:
                context.ingest.start()
            log.info("hub started", extra={"series": context.store.name, "ingest": context.ingest is not None})
            yield
        finally:
            close_context(context)
            log.info("hub stopped")

    return lifespan


def open_context(settings: HubSettings, metrics: HubMetrics) -> HubContext:
    """Migrate the database, open the series store and build (not start) ingest."""
    from hub.db.engine import make_engine
    from hub.db.migrate import upgrade
    from hub.series.factory import open_store

    engine = make_engine(settings.resolved_database_url())
    if settings.migrate_on_start:
        upgrade(engine)
    store = open_store(settings)
    context = HubContext(settings, metrics, engine, store)
    if settings.ingest.enabled:
        from hub.ingest import IngestService

        context.ingest = IngestService(settings, engine, store, metrics)
        from hub.drift.install import attach as attach_drift

        attach_drift(context)  # drift monitor: sketches -> drift points and events (hub/drift/monitor.py)
    return context


def close_context(context: HubContext) -> None:
    if context.ingest is not None:
        context.ingest.stop()
    context.store.close()
    context.engine.dispose()


def _add_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[HubError], int]] = [
        (NotFound, 404),
        (Conflict, 409),
        (StoreRejected, 502),
        (StoreError, 503),
        (DatabaseError, 503),
    ]
    for error, code in statuses:
        app.add_exception_handler(error, _handler(code))


def _handler(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(_request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handle


def _observe(metrics: HubMetrics) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(request)
            metrics.http_requests.labels(request.method, route, str(status)).inc()
            metrics.http_latency.labels(request.method, route).observe(elapsed)
            if status >= 500:
                metrics.http_errors.labels(request.method, route).inc()
            log.info(
                "request",
                extra={"method": request.method, "route": route, "status": status, "ms": round(elapsed * 1000, 2)},
            )

    return observe


def tune_gc() -> None:
    """Process-wide GC tuning for a hub process (`vigie hub serve` calls it; embedders may).

    Ingest allocates hundreds of thousands of short-lived objects per second; with CPython's default
    thresholds the collector runs every 700 allocations and rescans the long-lived ones. Freezing what
    exists after start-up and raising the young-generation threshold gives ~1.2-1.3x ingest throughput.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def route_template(request: Request) -> str:
    """The matched route with its parameters as `{name}` (a bounded metrics label), or "unmatched"."""
    if request.scope.get("route") is None:
        return "unmatched"
    names = {str(v): k for k, v in request.path_params.items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in request.url.path.split("/"))


class HubServer:
    """Run the hub (API + ingest) with uvicorn in a background thread, e.g. for `vigie demo` or tests."""

    def __init__(self, settings: HubSettings, host: str | None = None, port: int | None = None) -> None:
        import uvicorn

        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host=host or settings.api.host,
            port=settings.api.port if port is None else port,
            log_config=None,
            access_log=False,
            **uvicorn_tls_kwargs(settings.security),  # security layer: HTTPS when a cert is configured
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="vigie-hub", daemon=True)

    @property
    def url(self) -> str:
        socket = self._server.servers[0].sockets[0]
        host, port = socket.getsockname()[:2]
        return f"{scheme(self.settings.security)}://{host}:{port}"

    def start(self, timeout_s: float = 30.0) -> HubServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise HubError("the hub did not start (see the log)")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout_s)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()
