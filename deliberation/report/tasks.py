"""The report's Celery task. Thin, and safe to run twice."""

from celery import shared_task

from deliberation.report.render import report_warm
from deliberation.services.report_export import report_exports_build


@shared_task(name="deliberation.report.tasks.report_warm")
def report_warm_task(snapshot_id: int) -> bool:
    """Cache the latest report, and build its downloads, before anyone asks for them."""
    warmed = report_warm(snapshot_id=snapshot_id)
    if warmed:
        report_exports_build(snapshot_id=snapshot_id)
    return warmed
