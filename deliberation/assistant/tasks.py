"""The assistant's Celery tasks. Thin: each calls one service and is safe to run twice.

Registered by importing this module from ``deliberation/tasks.py`` (Celery autodiscovers
that module only).
"""

from celery import shared_task

from deliberation.report.tasks import report_warm_task
from deliberation.services.assistant import assistant_snapshot_follow_up
from deliberation.services.snapshots import snapshot_summaries_catch_up


@shared_task(name="deliberation.assistant.tasks.summary_generate")
def summary_generate(snapshot_id: int) -> int | None:
    """Summarize a succeeded snapshot and record bridging outcomes. A second run finds the
    summary stored (one per snapshot) and rewrites the same outcomes."""
    summary = assistant_snapshot_follow_up(snapshot_id=snapshot_id)
    # The report's cache key changes with the summary, so the report is warmed after it.
    report_warm_task.delay(snapshot_id)
    return None if summary is None else summary.pk


@shared_task(name="deliberation.assistant.tasks.summaries_catch_up")
def summaries_catch_up() -> list[int]:
    """Periodic: queue summaries that a lost summary_generate task never wrote."""
    return snapshot_summaries_catch_up()
