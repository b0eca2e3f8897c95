"""Helpers for hub tests that talk to real services."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import InfluxD, InfluxError


def influx_count(influxd: InfluxD, database: str, gateway: str, measurement: str = "score",
                 field: str = "anomaly_score") -> int:
    """How many points of `gateway` the measurement holds (0 if none or the database does not exist yet)."""
    if not influxd.running:
        return -1
    try:
        body = influxd.query(f"SELECT count(\"{field}\") FROM \"{measurement}\" WHERE \"gateway\" = '{gateway}'",
                             db=database)
    except InfluxError as exc:
        if "database not found" in str(exc):
            return 0
        raise
    results: list[dict[str, Any]] = body.get("results") or [{}]
    series = results[0].get("series") or []
    return int(series[0]["values"][0][1]) if series else 0


def scrape(base_url: str) -> dict[str, float]:
    """`/metrics` of a running hub as {"name{label=value,...}": value} (labels sorted); {} if unreachable."""
    try:
        text = httpx.get(f"{base_url}/metrics", timeout=2.0).text
    except httpx.HTTPError:
        return {}
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


def ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
