"""Forwarding as Celery tasks (DESIGN.md, Scale): eager in-process by default, real workers on
Redis or RabbitMQ when a broker URL is given (``HOCVU_BROKER_URL``, e.g. ``redis://host:6379/0``
or ``amqp://user:pass@host//``).

Two tasks: ``hocvu.forward.kick`` looks for targets with work due and delivers to each (eager) or
queues one ``hocvu.forward.deliver`` per target (workers; a round that runs out of time queues
its successor). Leases make duplicate or concurrent tasks harmless.

Ingest never waits on any of this: storing a statement only sets an ``Event`` (``nudge``). A
daemon thread per web process turns nudges and a timer into kicks — with no broker, the round run
right there (``run_round``, what the eager kick task runs, called directly), published to the
broker otherwise — so neither a down target nor a down broker can slow or fail POST /statements.

Tasks find their database through a named runtime registered in this process (``RUNTIMES``):
the web app registers its own; ``hocvu forward worker`` registers "default" from the settings.
Only that name travels through the broker — never a database URL or a secret.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from celery import Celery

from connectors.forwarding.config import ForwardConfig, now_utc
from connectors.forwarding.delivery import Clock, RoundReport, TargetKey, deliver_target, due_targets, key_of
from lrs.storage import Database

log = logging.getLogger(__name__)
KICK = "hocvu.forward.kick"
DELIVER = "hocvu.forward.deliver"
DEFAULT_QUEUE = "hocvu-forward"


@dataclass
class Runtime:
    db: Database
    config: ForwardConfig
    clock: Clock = now_utc


RUNTIMES: dict[str, Runtime] = {}


def run_round(runtime: Runtime) -> dict[str, Any]:
    """Deliver to every target with work due, here and now (eager kick, `hocvu forward run`)."""
    # Ended by COMMIT, not a session's closing ROLLBACK: psycopg forgets a connection's prepared
    # statements at every ROLLBACK, and the pool hands this connection to ingest next (lrs.storage).
    with runtime.db.transaction() as session:
        keys = due_targets(session, runtime.clock())
    reports = [deliver_target(runtime.db, runtime.config, k, clock=runtime.clock) for k in keys]
    return {"targets": len(keys), "delivered": sum(r.delivered for r in reports),
            "rejected": sum(r.rejected for r in reports), "more": any(r.more for r in reports),
            "errors": {r.target_id: r.error for r in reports if r.error}}


def make_celery(broker_url: str | None, *, queue: str = DEFAULT_QUEUE) -> Celery:
    """A Celery app with the forwarding tasks; eager when there is no broker."""
    app = Celery("hocvu-forward", broker=broker_url or "memory://", set_as_current=False)
    app.conf.update(
        task_always_eager=broker_url is None,
        task_default_queue=queue,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        # A worker that dies mid-round leaves the message for another; the lease and the
        # target's idempotence make the second run harmless.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_publish_retry=False,
        worker_hijack_root_logger=False,
    )

    # Each app its own tasks: they close over its config. Celery ships no type information (pyproject:
    # ignore_missing_imports), so its task decorator is untyped; the bodies are still checked.
    @app.task(name=KICK, shared=False)  # type: ignore[untyped-decorator]
    def kick(runtime: str = "default") -> dict[str, Any]:
        rt = RUNTIMES[runtime]
        if app.conf.task_always_eager:
            return run_round(rt)
        with rt.db.session() as session:
            keys = due_targets(session, rt.clock())
        for key in keys:
            deliver.apply_async(args=tuple(key), kwargs={"runtime": runtime})
        return {"targets": len(keys), "queued": len(keys)}

    # A target travels as its key (tenant_id, id), so the round's look-ups name the tenant. A message
    # queued by an older release carries the target's id alone: its tenant is looked up, so a rolling
    # deploy loses no delivery.
    @app.task(name=DELIVER, shared=False)  # type: ignore[untyped-decorator]
    def deliver(*key_parts: int, runtime: str = "default") -> dict[str, Any]:
        rt = RUNTIMES[runtime]
        key = TargetKey(*key_parts) if len(key_parts) == 2 else key_of(rt.db, key_parts[0])
        if key is None:  # removed since the message was queued: what a round reports for a target gone
            return asdict(RoundReport(key_parts[0], skipped="gone"))
        report = deliver_target(rt.db, rt.config, key, clock=rt.clock)
        if report.more and not app.conf.task_always_eager:
            deliver.apply_async(args=tuple(key), kwargs={"runtime": runtime})
        return asdict(report)

    return app


class Forwarder:
    """The web process's side: a Celery app, a runtime, and the thread that kicks delivery."""

    def __init__(self, db: Database, config: ForwardConfig, broker_url: str | None = None, *,
                 name: str | None = None, queue: str = DEFAULT_QUEUE, min_interval: float = 0.2,
                 clock: Clock = now_utc) -> None:
        self.eager = broker_url is None
        # Workers know the runtime as "default"; an eager app gets a name of its own so several
        # apps (tests, tools) in one process keep their databases apart.
        self.name = name or ("default" if broker_url else f"app-{uuid.uuid4().hex[:12]}")
        RUNTIMES[self.name] = Runtime(db, config, clock)
        self.celery = make_celery(broker_url, queue=queue)
        if self.eager:
            # Celery logs each task at INFO ("Task ... succeeded"): one line per kick in every web
            # process. Failures are still logged, by Celery and by the loop.
            logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        self.min_interval = min_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def runtime(self) -> Runtime:
        return RUNTIMES[self.name]

    def nudge(self) -> None:
        """Statements were stored: deliver soon. Sets a flag, nothing else (called on ingest)."""
        self._wake.set()

    def kick(self) -> dict[str, Any]:
        """One kick: with no broker, a round run here and now; else published to the broker.
        The eager case calls the round itself, not the task through Celery's eager ``apply``, which
        is the same call wrapped in a traced request: 3.5 % of a web worker's CPU during a bulk
        load, at up to five kicks a second per worker, for nothing."""
        if self.eager:
            return run_round(self.runtime)
        result = self.celery.tasks[KICK].apply_async(kwargs={"runtime": self.name})
        return {"published": result.id}

    def start(self, every: float) -> Forwarder:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, args=(every,), name="hocvu-forward", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self, every: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(every)
            if self._stop.is_set():
                return
            self._wake.clear()
            more = True
            while more and not self._stop.is_set():
                try:
                    more = bool(self.kick().get("more"))
                except Exception:  # a failed kick must not end the loop; the next one tries again
                    log.exception("forwarding kick failed")
                    more = False
            # At most one kick per interval however fast statements arrive: they batch up meanwhile.
            self._stop.wait(self.min_interval)
