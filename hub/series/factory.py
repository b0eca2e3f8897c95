"""Select and open the configured series store."""

from __future__ import annotations

from hub.series.base import SeriesStore
from hub.settings import HubSettings


def open_store(settings: HubSettings) -> SeriesStore:
    series = settings.series
    if series.backend == "influxdb1":
        from hub.series.influx_v1 import InfluxV1Store

        return InfluxV1Store(
            series.url,
            series.database,
            username=series.username,
            password=series.password.get_secret_value(),
            timeout_s=series.timeout_s,
            create_database=series.create_database,
        )
    if series.backend == "influxdb2":
        from hub.series.influx_v2 import InfluxV2Store

        return InfluxV2Store(
            series.url, series.token.get_secret_value(), series.org, series.bucket, timeout_s=series.timeout_s
        )
    from hub.series.sqlite_store import SqliteSeriesStore

    return SqliteSeriesStore(settings.resolved_sqlite_series_path())
