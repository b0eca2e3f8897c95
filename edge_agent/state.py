"""Reporting: the retained ReportedState and the Prometheus metrics, both from the agent's live counters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from contracts.messages import Counters, Latency, ModelLatency, OutboxStatus, ReportedState
from edge_agent import __version__
from edge_agent.health import Metric
from edge_agent.percentiles import ModelLatencies

if TYPE_CHECKING:
    from edge_agent.agent import Agent


def build_state(agent: Agent, seq: int, online: bool) -> ReportedState:
    c = agent.counts
    stats = agent.outbox.stats()
    p50, p99, p999 = agent.latency.percentiles(50, 99, 99.9)
    return ReportedState(
        gateway=agent.gateway,
        seq=seq,
        ts=int(time.time() * 1000),
        online=online,
        site=agent.cfg.gateway.site,
        agent_version=__version__,
        models=agent.manager.slots(),
        outbox=OutboxStatus(
            depth=stats.depth,
            capacity=stats.capacity,
            strategy=stats.strategy,
            dropped=stats.dropped,
            rejected=stats.rejected,
        ),
        counters=Counters(
            readings_in=c.readings_in,
            scored=c.scored,
            unscoreable=sum(c.unscoreable.values()),
            score_errors=c.score_errors,
            source_errors=sum(r.errors for r in agent.runners),
            malformed_desired=c.malformed_desired,
        ),
        latency=Latency(p50_us=p50, p99_us=p99, p999_us=p999),
        model_latency=model_latency(agent.model_latency),
        equipment=list(agent.equipment.values()),
        update=agent.manager.update,
        rss_mb=round(agent.rss_mb(), 2),
    )


def model_latency(latencies: ModelLatencies) -> ModelLatency | None:
    """The latest scoring model's own percentiles (None before any pass), for the rollout's latency gate."""
    current = latencies.current()
    if current is None:
        return None
    model, tracker = current
    p50, p99, p999 = tracker.percentiles(50, 99, 99.9)
    return ModelLatency(model=model, samples=len(tracker), p50_us=p50, p99_us=p99, p999_us=p999)


def metrics_snapshot(agent: Agent) -> list[Metric]:
    c = agent.counts
    stats = agent.outbox.stats()
    t = agent.transport.stats
    p50, p99, p999 = agent.latency.percentiles(50, 99, 99.9)
    a50, a99 = t.ack_latency_us.percentiles(50, 99)
    slots = agent.manager.slots()
    models = [({"slot": k, "model": v.name, "version": v.version}, 1.0) for k, v in slots if v is not None]
    return [
        Metric("vigie_agent_readings", "counter", "Readings received from sources", [({}, c.readings_in)]),
        Metric("vigie_agent_scored", "counter", "Readings scored by the active model", [({}, c.scored)]),
        Metric("vigie_agent_shadow_scored", "counter", "Readings scored by the shadow model", [({}, c.shadow_scored)]),
        Metric("vigie_agent_unscoreable", "counter", "Readings that could not be scored, by reason",
               [({"reason": r}, n) for r, n in sorted(c.unscoreable.items())] or [({"reason": "none"}, 0)]),
        Metric("vigie_agent_score_errors", "counter", "Readings whose scoring failed", [({}, c.score_errors)]),
        Metric("vigie_agent_source_errors", "counter", "Failed source reads, by equipment",
               [({"equipment": r.spec.id}, r.errors) for r in agent.runners]),
        Metric("vigie_agent_equipment_available", "gauge", "1 when the equipment's source delivers",
               [({"equipment": e}, float(s.available)) for e, s in agent.equipment.items()]),
        Metric("vigie_agent_outbox_depth", "gauge", "Entries waiting for a PUBACK", [({}, stats.depth)]),
        Metric("vigie_agent_outbox_bytes", "gauge", "Bytes waiting for a PUBACK", [({}, stats.bytes)]),
        Metric("vigie_agent_outbox_dropped", "counter", "Entries dropped (drop_oldest)", [({}, stats.dropped)]),
        Metric("vigie_agent_outbox_rejected", "counter", "Entries refused (reject_new)", [({}, stats.rejected)]),
        Metric("vigie_agent_mqtt_connected", "gauge", "1 while connected to the broker",
               [({}, float(agent.transport.online))]),
        Metric("vigie_agent_mqtt_connects", "counter", "Successful broker connections", [({}, t.connects)]),
        Metric("vigie_agent_mqtt_connect_failures", "counter", "Failed connection attempts",
               [({}, t.connect_failures)]),
        Metric("vigie_agent_mqtt_published", "counter", "Outbox entries handed to MQTT", [({}, t.published)]),
        Metric("vigie_agent_mqtt_acked", "counter", "Outbox entries acknowledged by the broker", [({}, t.acked)]),
        Metric("vigie_agent_mqtt_ack_latency_us", "gauge", "PUBACK round trip, microseconds",
               [({"quantile": "0.5"}, a50), ({"quantile": "0.99"}, a99)]),
        Metric("vigie_agent_score_latency_us", "gauge", "Scoring time per batch, microseconds",
               [({"quantile": "0.5"}, p50), ({"quantile": "0.99"}, p99), ({"quantile": "0.999"}, p999)]),
        Metric("vigie_agent_model_score_latency_us", "gauge",
               "Scoring CPU time per batch of the current and previous active model, microseconds",
               _per_model_latency(agent.model_latency)),
        Metric("vigie_agent_model_info", "gauge", "Loaded models by slot",
               models or [({"slot": "active", "model": "none", "version": "none"}, 0.0)]),
        Metric("vigie_agent_rss_bytes", "gauge", "Resident set size", [({}, agent.rss_mb() * 2**20)]),
    ]


def _per_model_latency(latencies: ModelLatencies) -> list[tuple[dict[str, str], float]]:
    samples: list[tuple[dict[str, str], float]] = []
    for model, tracker in latencies.models():
        labels = {"model": model.name, "version": model.version}
        values = tracker.percentiles(50, 99, 99.9)
        samples += [({**labels, "quantile": q}, v) for q, v in zip(("0.5", "0.99", "0.999"), values, strict=True)]
    return samples
