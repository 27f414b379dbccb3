"""The Celery app. Without a broker configured, tasks run eagerly in-process.

Its broker settings (retry for ever, every 1-2 s) are the CELERY_* ones in settings.py; how
the worker and beat are run is deploy/supervisord.conf.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

app = Celery("agora")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
