"""Agora's Django side: settings, the Celery app, models, services, API and web UI."""

from deliberation.celery import app as celery_app

__all__ = ["celery_app"]
