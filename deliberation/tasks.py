"""Celery tasks. Thin: each takes ids and calls one service; each is safe to run twice.

In production deploy/supervisord.conf runs the worker (``celery -A deliberation worker
--without-gossip --without-mingle --without-heartbeat``) and one beat for the periodic tasks
(``celery -A deliberation beat``), and restarts either when it exits.
"""

from celery import shared_task

from deliberation.assistant import moderation_tasks  # noqa: F401  (registers its tasks)
from deliberation.assistant import tasks as assistant_tasks  # noqa: F401  (registers its tasks)
from deliberation.report import tasks as report_tasks  # noqa: F401  (registers its tasks)
from deliberation.services.recompute import recompute_catch_up as _recompute_catch_up
from deliberation.services.recompute import snapshots_reap as _snapshots_reap
from deliberation.services.snapshots import snapshot_run
from deliberation.services.topics import topics_recompute as _topics_recompute


@shared_task(name="deliberation.tasks.snapshot_run")
def snapshot_run_task(snapshot_id: int) -> int | None:
    """Run one clustering snapshot; a redelivered or duplicate task finds it claimed."""
    snapshot = snapshot_run(snapshot_id=snapshot_id)
    return None if snapshot is None else snapshot.pk


@shared_task(name="deliberation.tasks.snapshots_reap")
def snapshots_reap() -> list[int]:
    """Periodic: requeue runs whose worker died and resend stranded queued runs."""
    return _snapshots_reap()


@shared_task(name="deliberation.tasks.recompute_catch_up")
def recompute_catch_up() -> list[int]:
    """Periodic: schedule conversations whose votes are ahead of their latest snapshot."""
    return _recompute_catch_up()


@shared_task(name="deliberation.tasks.topics_recompute")
def topics_recompute_task(conversation_id: int) -> list[int] | None:
    """Refit a conversation's topics; a duplicate finds the fit claimed or refits the same."""
    topics = _topics_recompute(conversation_id=conversation_id)
    return None if topics is None else [topic.number for topic in topics]
