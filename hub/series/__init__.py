"""Time-series stores behind one interface (`SeriesStore`): SQLite (default), InfluxDB 1.x, InfluxDB 2.x."""

from hub.series.base import Agg, Point, RangeQuery, Row, SeriesResult, SeriesStore
from hub.series.factory import open_store

__all__ = ["Agg", "Point", "RangeQuery", "Row", "SeriesResult", "SeriesStore", "open_store"]
