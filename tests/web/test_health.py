from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from deliberation.models import Snapshot
from deliberation.selectors import health
from tests.celery.harness import free_port
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_with_each_check_when_all_is_well(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failed"] == []
    assert set(body["checks"]) == {"database", "broker", "snapshots"}


def test_healthz_answers_503_naming_the_broker_when_it_is_unreachable(
    client: Client, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing there

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert "hunter2" not in response.content.decode()
    assert response.json()["checks"]["broker"]["ms"] < 3000


def test_healthz_answers_503_when_a_queued_run_has_waited_too_long(
    client: Client, settings: Any
) -> None:
    settings.AGORA_HEALTHZ_SNAPSHOT_LAG_S = 60.0
    Snapshot.objects.create(
        conversation=ConversationFactory.create(),
        created_at=timezone.now() - timedelta(seconds=90),
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["snapshots"]
    assert response.json()["checks"]["snapshots"]["oldest_queued_s"] >= 90


def test_healthz_answers_503_naming_the_database_when_it_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "_database", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "snapshots"]
