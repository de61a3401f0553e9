"""Live views for polling pages: shared snapshots and conditional answers (ETag, 304).

A page's script asks for its live view once a second with the ETag it last got.
The view is built at most once per ``SNAPSHOT_TTL_S`` for each key and shared by
every viewer with that key, and the ETag comes from what the view shows except
the running clocks (the scripts advance those themselves), so while nothing
changes each poll costs one dictionary look-up and an empty 304 answer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from werkzeug.wrappers import Response

SNAPSHOT_TTL_S = 0.5
# A view whose clocks run changes its ETag this often anyway, so that a script's own
# clock never drifts far from the hub's.
CLOCK_RESYNC_S = 30.0
# Snapshots unused for this long are dropped when the cache is swept.
FORGET_AFTER_S = 60.0
SWEEP_ABOVE = 256


@dataclass(frozen=True)
class Snapshot:
    """One built live view: its body and the ETag of what it shows."""

    body: str
    etag: str


def version_tag(version: Any, clocks_running: bool) -> str:
    """The ETag of a view's stable content (JSON types), renewed every ``CLOCK_RESYNC_S``."""
    if clocks_running:
        version = [version, int(time.time() // CLOCK_RESYNC_S)]
    text = json.dumps(version, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class Snapshots:
    """Live views built at most once per ``ttl_s`` per key, shared by all their viewers.

    The key must hold everything that changes what a viewer may see (database,
    language, whether names are shown), never the viewer's identity alone.
    """

    def __init__(self, ttl_s: float = SNAPSHOT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[Hashable, tuple[float, Snapshot]] = {}

    def get(self, key: Hashable, build: Callable[[], Snapshot]) -> Snapshot:
        """The fresh snapshot for ``key``, building it if it is older than the TTL."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self.ttl_s:
                return hit[1]
            snapshot = build()
            self._cache[key] = (now, snapshot)
            if len(self._cache) > SWEEP_ABOVE:
                self._cache = {k: v for k, v in self._cache.items()
                               if now - v[0] < FORGET_AFTER_S}
            return snapshot


def conditional(snapshot: Snapshot, mimetype: str) -> Response:
    """Answer 304 with no body if the viewer's ``If-None-Match`` holds the snapshot's ETag."""
    response = current_app.response_class(snapshot.body, mimetype=mimetype)
    response.set_etag(snapshot.etag)
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)
