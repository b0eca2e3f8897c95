"""Gate inputs from the hub's stores (adapters, no decisions): reported states and failure events from SQL,
paired active/shadow decisions from the series store."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from pydantic import ValidationError
from sqlmodel import Session, col, select

from contracts.limits import MAX_TIMESTAMP_MS
from contracts.messages import ModelRef, ReportedState
from hub.db.models import EquipmentRecord, EventRecord, GatewayRecord
from hub.rollout.gates import GatewayObservation, ShadowStats, pair_decisions
from hub.rollout.machine import Phase, Rollout
from hub.rollout.store import RolloutContext
from hub.series.base import RangeQuery, SeriesStore

log = logging.getLogger("hub.rollout")
FAILURE_KINDS = ("model_rejected", "model_load_failed")


def reported_states(session: Session, gateways: Iterable[str]) -> dict[str, ReportedState | None]:
    """The latest reported state of each gateway (None: never reported, or unreadable)."""
    wanted = list(gateways)
    found: dict[str, ReportedState | None] = dict.fromkeys(wanted)
    records = session.exec(select(GatewayRecord).where(col(GatewayRecord.id).in_(wanted))).all()
    for record in records:
        found[record.id] = parse_state(record.reported_state)
    return found


def parse_state(document: Mapping[str, object] | None) -> ReportedState | None:
    if document is None:
        return None
    try:
        return ReportedState.model_validate(document)
    except ValidationError:
        return None


def failures_since(
    session: Session, gateways: Iterable[str], model: ModelRef, since_ms: int
) -> dict[str, tuple[str, ...]]:
    """`model_rejected` / `model_load_failed` events about `model` received since `since_ms` (hub clock)."""
    query = select(EventRecord).where(
        col(EventRecord.gateway_id).in_(list(gateways)),
        col(EventRecord.kind).in_(FAILURE_KINDS),
        col(EventRecord.received_at_ms) >= since_ms,
        col(EventRecord.model) == model.name,
        col(EventRecord.model_version) == model.version,
    )
    found: dict[str, list[str]] = {}
    for event in session.exec(query).all():
        found.setdefault(event.gateway_id, []).append(f"{event.kind}: {event.detail[:200]}")
    return {gw: tuple(reasons) for gw, reasons in found.items()}


def observations(session: Session, rollout: Rollout, context: RolloutContext) -> list[GatewayObservation]:
    expected = rollout.expected()
    states = reported_states(session, expected)
    rolling_back = rollout.effective_phase is Phase.ROLLING_BACK
    failures = {} if rolling_back else failures_since(session, expected, rollout.model, context.step_started_ms)
    return [
        GatewayObservation(
            gateway=gw,
            expected=assignment,
            state=states[gw],
            baseline=context.baselines.get(gw),
            desired_seq=context.desired_seq.get(gw),
            reference_p99_us=context.reference_p99_us.get(gw),
            failures=failures.get(gw, ()),
        )
        for gw, assignment in expected.items()
    ]


def shadow_stats(
    store: SeriesStore, session: Session, gateways: Iterable[str], model: ModelRef, max_points: int
) -> ShadowStats:
    """Active vs shadow decisions on the same readings, over every equipment of `gateways`.

    Readings carry the sensor's clock, which need not be the hub's (replayed data, a slow simulator), so
    the shadow readings of `model` select themselves (by slot and version, whatever their time) and the
    active readings are read over the same time span.
    """
    wanted = list(gateways)
    equipment = session.exec(select(EquipmentRecord).where(col(EquipmentRecord.gateway_id).in_(wanted))).all()
    total = ShadowStats()
    for item in equipment:
        where = {"gateway": item.gateway_id, "equipment": item.id, "model": model.name}
        shadow = _decisions(store, {**where, "slot": "shadow", "model_version": model.version}, ALL_TIME, max_points)
        if not shadow:
            continue
        span = (min(shadow), max(shadow) + 1)
        total = total + pair_decisions(_decisions(store, {**where, "slot": "active"}, span, max_points), shadow)
    return total


ALL_TIME = (0, MAX_TIMESTAMP_MS)


def _decisions(store: SeriesStore, where: dict[str, str], window: tuple[int, int], max_points: int) -> dict[int, bool]:
    query = RangeQuery("score", where, window[0], window[1], max_points, fields=("is_anomaly",))
    result = store.query_range(query)
    if result.interval_ms is not None:  # aggregated: readings can no longer be paired
        log.warning("too many readings to pair for the ML gate", extra={"where": where, "max_points": max_points})
        return {}
    return {row.ts_ms: bool(row.fields.get("is_anomaly")) for row in result.rows}
