"""Drift monitor: agents' per-window histograms vs the manifest's reference -> drift points and events.

`stats.py` (PSI, JS, rule, hysteresis) and `tracker.py` (pooling, per-stream state) are pure; `monitor.py`
is the adapter on ingest, the series store and the events table; `api.py` serves `/api/v1/drift`.
"""
