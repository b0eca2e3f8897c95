"""The ingest's gateway cache: an unknown gateway reloads at most every N s, a registration reloads at once."""

from __future__ import annotations

from hub.ingest.pipeline import GatewayInfo
from hub.ingest.registry import GatewayRegistry


def test_a_registration_in_this_process_is_seen_at_once_despite_the_rate_limit() -> None:
    table: dict[str, GatewayInfo] = {}
    loads = []

    def load() -> dict[str, GatewayInfo]:
        loads.append(1)
        return dict(table)

    registry = GatewayRegistry(load, refresh_s=3600)
    assert registry.lookup("stranger") is None  # first miss loads
    table["paris-gw1"] = GatewayInfo(id="paris-gw1", site="paris", cohort="green")
    assert registry.lookup("paris-gw1") is None  # rate-limited: no reload within refresh_s
    registry.invalidate()
    assert registry.lookup("paris-gw1") is not None
    assert len(loads) == 2
