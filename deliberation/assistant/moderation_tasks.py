"""The moderation flags' Celery tasks. Thin: each takes ids and calls one service; each is
safe to run twice. Registered by importing this module from ``deliberation/tasks.py``."""

from celery import shared_task

from deliberation.services.assistant import moderation_screening_run, moderation_screenings_reap


@shared_task(name="deliberation.assistant.moderation_tasks.moderation_flags_compute")
def moderation_flags_compute(statement_id: int) -> int | None:
    """Screen one statement. A second delivery finds the screening claimed or done."""
    screening = moderation_screening_run(statement_id=statement_id)
    return None if screening is None else screening.pk


@shared_task(name="deliberation.assistant.moderation_tasks.moderation_flags_reap")
def moderation_flags_reap() -> list[int]:
    """Periodic: resend screenings whose job was lost and screen pending statements that
    never had one."""
    return moderation_screenings_reap()
