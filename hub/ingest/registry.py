"""Cache of registered gateways for ingest, reloaded when an unknown gateway shows up (at most every N s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hub.ingest.pipeline import GatewayInfo


class GatewayRegistry:
    def __init__(self, load: Callable[[], dict[str, GatewayInfo]], refresh_s: float) -> None:
        self._load = load
        self._refresh_s = refresh_s
        self._known: dict[str, GatewayInfo] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def lookup(self, gateway: str) -> GatewayInfo | None:
        info = self._known.get(gateway)
        if info is not None:
            return info
        if time.monotonic() - self._loaded_at >= self._refresh_s:
            self.reload()
        return self._known.get(gateway)

    def invalidate(self) -> None:
        """Forget the cache: the next lookup reloads (a gateway was registered or changed in this process)."""
        with self._lock:
            self._loaded_at = float("-inf")

    def reload(self) -> None:
        """Reload now; a DatabaseError propagates (ingest treats it as transient and retries the batch)."""
        with self._lock:
            self._known = self._load()
            self._loaded_at = time.monotonic()
