"""InfluxDB 2.x (thin, untested here: no 2.x server on the test machines).

Writes go through `influxdb-client` (synchronous write API, ms precision) into `bucket`; reads use the
2.x v1-compatibility `/query` endpoint with InfluxQL, so the query code is the 1.x store's. That needs a
DBRP mapping of database `bucket` to the bucket (`influx v1 dbrp create --db <bucket> --rp autogen
--bucket-id <id> --default`); Grafana uses the same mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub._errors import StoreRejected, StoreUnavailable
from hub.series import lineproto as lp
from hub.series.base import Point
from hub.series.influx_v1 import WRITE_CHUNK, InfluxV1Store


class InfluxV2Store(InfluxV1Store):
    name = "influxdb2"

    def __init__(self, url: str, token: str, org: str, bucket: str, *, timeout_s: float = 10.0) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient  # heavy: imported only when selected
        from influxdb_client.client.write_api import SYNCHRONOUS

        super().__init__(
            url, bucket, timeout_s=timeout_s, create_database=False, headers={"Authorization": f"Token {token}"}
        )
        self._v2: Any = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000))
        self._write_api: Any = self._v2.write_api(write_options=SYNCHRONOUS)
        self._bucket = bucket
        self._org = org

    def write(self, points: Sequence[Point]) -> None:
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        for start in range(0, len(points), WRITE_CHUNK):
            body = lp.lines(points[start : start + WRITE_CHUNK]).decode("utf-8")
            try:
                self._write_api.write(bucket=self._bucket, org=self._org, record=body, write_precision="ms")
            except ApiException as exc:
                status = int(getattr(exc, "status", 0) or 0)
                if 400 <= status < 500 and status not in (401, 403, 429):
                    raise StoreRejected(f"influxdb2 rejected the write: {exc}") from None
                raise StoreUnavailable(f"influxdb2 write failed: {exc}") from None
            except (HTTPError, OSError) as exc:
                raise StoreUnavailable(f"influxdb2 unreachable: {exc}") from None

    def close(self) -> None:
        self._v2.close()
        super().close()
