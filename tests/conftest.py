import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    """An API client that, like a browser, must send the CSRF token on unsafe requests."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture(autouse=True)
def recluster_inline() -> Iterator[None]:
    """Without a broker, run clustering inside the triggering call rather than on the
    background thread, so tests see the snapshot as soon as the call returns.

    Not through pytest-django's ``settings`` fixture: a test may name a parameter "settings".
    """
    with override_settings(
        AGORA_RECLUSTER={**django_settings.AGORA_RECLUSTER, "EAGER_INLINE": True}
    ):
        yield


@pytest.fixture(autouse=True)
def ratelimit_counters_per_test(monkeypatch: pytest.MonkeyPatch) -> str:
    """Rate-limit counters of this test only: every test client comes from 127.0.0.1, and
    the counts live in Redis across tests. Returns the key prefix."""
    prefix = f"agora:ratelimit:test-{uuid.uuid4().hex}:"
    monkeypatch.setattr("deliberation.services.ratelimits.KEY_PREFIX", prefix)
    return prefix


@pytest.fixture(autouse=True)
def exports_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The report's stored downloads go to a folder of this test's own, not var/."""
    folder = tmp_path_factory.mktemp("exports")
    with override_settings(AGORA_EXPORTS_DIR=folder):
        yield folder
