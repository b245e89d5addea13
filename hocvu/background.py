"""Periodic work inside the web process for the embedded mode, until Celery beat takes it over
(DESIGN.md, Scale). Each gunicorn worker runs its own loop; the work itself must be safe to run
from several processes at once (AGS score retries claim each outbox row before sending it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicTask:
    """Calls ``work`` every ``every`` seconds on a daemon thread until ``stop()``."""

    def __init__(self, name: str, every: float, work: Callable[[], object]) -> None:
        self.name, self.every, self.work = name, every, work
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> PeriodicTask:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.work()
            except Exception:  # a failed round must not end the loop; the next one tries again
                log.exception("periodic task %s failed", self.name)
