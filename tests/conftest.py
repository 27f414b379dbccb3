import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    """An API client that, like a browser, must send the CSRF token on unsafe requests."""
    return APIClient(enforce_csrf_checks=True)
