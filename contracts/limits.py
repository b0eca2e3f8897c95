"""Hard limits every decoder enforces, so that one bad payload cannot exhaust a hub or an agent."""

from __future__ import annotations

MAX_TIMESTAMP_MS = 32503680000000
"""Latest timestamp (ms since the epoch, year 3000) any message, query or series point may carry."""

MAX_PAYLOAD_BYTES = 512 * 1024
"""Largest MQTT payload any Vigie message may have."""

MAX_BATCH_READINGS = 2000
"""Most readings in one scores batch."""

MAX_BATCH_EVENTS = 500
"""Most events in one events batch."""

MAX_CHANNELS = 64
"""Most sensor values in one reading."""

MAX_FEATURES = 512
"""Most features a manifest or sketch may describe."""

MAX_BINS = 256
"""Most histogram bins per feature."""

MAX_EQUIPMENT_PER_GATEWAY = 512

MAX_TEXT = 1000
"""Longest free-text field (event detail, error reason)."""
