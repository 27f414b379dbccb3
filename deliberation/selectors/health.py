"""What /healthz reports: can this process reach its database and broker, and do the
opinion groups keep up with the votes."""

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from kombu import Connection

from deliberation.models import Snapshot, SnapshotStatus

# A probe must answer fast even when the broker host is gone.
BROKER_TIMEOUT_S = 1


@dataclass
class Health:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check["ok"]]


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = {"ok": True, **(check() or {})}  # a check may set its own "ok"
    except Exception as exc:
        # The class only: a message could carry a connection URL with its password.
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000.0, 1)
    return result


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> dict[str, Any] | None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"configured": False}  # runs happen in the web process
    options = {"socket_connect_timeout": BROKER_TIMEOUT_S, "socket_timeout": BROKER_TIMEOUT_S}
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_S, transport_options=options
    ) as broker:
        broker.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_S
        )
    return None


def _snapshots() -> dict[str, Any]:
    """Every vote queues a run (or the sweep does): a run left queued longer than the limit
    means the groups lag the votes (no worker, a dead beat, a broker that lost it)."""
    now = timezone.now()
    latest = (
        Snapshot.objects.filter(status=SnapshotStatus.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    oldest_queued = Snapshot.objects.filter(status=SnapshotStatus.QUEUED).aggregate(
        at=Min("created_at")
    )["at"]
    waited_s = (now - oldest_queued).total_seconds() if oldest_queued else 0.0
    return {
        "ok": waited_s <= settings.AGORA_HEALTHZ_SNAPSHOT_LAG_S,
        "latest_age_s": round((now - latest).total_seconds(), 1) if latest else None,
        "oldest_queued_s": round(waited_s, 1),
        "limit_s": settings.AGORA_HEALTHZ_SNAPSHOT_LAG_S,
    }


def health_check() -> Health:
    health = Health()
    for name, check in (("database", _database), ("broker", _broker)):
        health.checks[name] = _timed(check)
    # Without a database there is no snapshot to look at.
    if health.checks["database"]["ok"]:
        health.checks["snapshots"] = _timed(_snapshots)
    else:
        health.checks["snapshots"] = {"ok": False, "error": "database unavailable"}
    return health
