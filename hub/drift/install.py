"""Plug the drift monitor into the hub: `attach(context)` in `open_context`, before ingest starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.drift.manifests import ChainManifests, DirectoryManifests, ManifestProvider, RegistryManifests
from hub.drift.monitor import DriftMetrics, DriftMonitor, SqlEventSink
from hub.drift.tracker import DriftTracker

if TYPE_CHECKING:
    from hub.api.context import HubContext


def attach(context: HubContext) -> DriftMonitor | None:
    """Build the monitor from `settings.drift` and add it to the ingest listeners; None if off or no ingest."""
    settings = context.settings.drift
    if not settings.enabled or context.ingest is None:
        return None
    providers: list[ManifestProvider] = [RegistryManifests(context.engine)]
    if settings.manifest_dir is not None:
        providers.append(DirectoryManifests(settings.manifest_dir))
    tracker = DriftTracker(
        settings.rule(), max_pool_ms=int(settings.max_pool_hours * 3600 * 1000), ignore=settings.ignore_features
    )
    monitor = DriftMonitor(
        context.store, SqlEventSink(context.engine), ChainManifests(*providers), tracker,
        DriftMetrics(context.metrics.registry),
    )
    context.ingest.worker.listeners.append(monitor.on_batch)
    return monitor
