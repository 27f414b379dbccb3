from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    """An API client that, like a browser, must send the CSRF token on unsafe requests."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture(autouse=True)
def recluster_inline(settings: Any) -> None:
    """Without a broker, run clustering inside the triggering call rather than on the
    background thread, so tests see the snapshot as soon as the call returns."""
    settings.AGORA_RECLUSTER = {**settings.AGORA_RECLUSTER, "EAGER_INLINE": True}
