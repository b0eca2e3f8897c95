"""CSV reading: SKAB layout, plain CSVs, errors; the real SKAB files when they are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_export._errors import DataError
from model_export.data import channel_name, parse_csv, read_tables

from .conftest import SKAB

SKAB_LIKE = (
    "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;Thermocouple;Voltage;"
    "Volume Flow RateRMS;anomaly;changepoint\r\n"
    "2021-01-01 00:00:00;0.1;0.2;1.0;0.5;70.0;25.0;230.0;32.0;0.0;0.0\r\n"
    "2021-01-01 00:00:01;0.1;0.2;1.1;0.5;70.1;25.0;231.0;31.0;1.0;1.0\r\n"
)


def test_skab_layout_maps_names_and_drops_labels() -> None:
    table = parse_csv(SKAB_LIKE)
    assert table.channels[0] == "accel1_rms" and table.channels[-1] == "flow_rate_rms"
    assert table.values.shape == (2, 8)
    assert table.labels is not None and table.labels.tolist() == [0, 1]


def test_plain_csv_with_comma_and_timestamp() -> None:
    table = parse_csv("timestamp,Motor Temp (C),rpm\n1,40.5,1500\n2,41,1490\n\n")
    assert table.channels == ("motor_temp_c", "rpm")
    assert table.labels is None
    np.testing.assert_array_equal(table.values, [[40.5, 1500], [41, 1490]])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n1,x\n", "not a number"),
        ("a,b\n1\n", "missing"),
        ("a\n", "header"),
        ("a,A\n1,2\n", "duplicate"),
        ("a,b\n1,nan\n", "not finite"),
    ],
)
def test_bad_csv_is_a_data_error(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_csv(text)


def test_select_reorders_and_checks() -> None:
    table = parse_csv("a,b\n1,2\n")
    assert table.select(["b", "a"]).values.tolist() == [[2.0, 1.0]]
    with pytest.raises(DataError):
        table.select(["c"])


def test_channel_name() -> None:
    assert channel_name("Volume Flow RateRMS") == "flow_rate_rms"
    assert channel_name(" Pressure-2 ") == "pressure-2"


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not present next to the repository")
def test_real_skab_files_read(tmp_path: Path) -> None:
    tables = read_tables([SKAB / "valve2"])
    assert [Path(t.source).name for t in tables] == ["0.csv", "1.csv", "2.csv", "3.csv"]
    for t in tables:
        assert t.values.shape[1] == 8 and t.labels is not None
        assert t.labels[:400].sum() == 0 and 0.2 < t.labels.mean() < 0.6
    free = read_tables([SKAB / "anomaly-free" / "anomaly-free.csv"])[0]
    assert free.labels is None and free.rows > 9000
