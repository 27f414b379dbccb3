"""The report's Celery task. Thin, and safe to run twice."""

from celery import shared_task

from deliberation.report.render import report_warm


@shared_task(name="deliberation.report.tasks.report_warm")
def report_warm_task(snapshot_id: int) -> bool:
    """Cache the latest report before anyone asks for it."""
    return report_warm(snapshot_id=snapshot_id)
