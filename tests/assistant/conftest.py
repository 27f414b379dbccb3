from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from tests.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai(settings: Settings) -> Iterator[FakeOpenAI]:
    """A running fake OpenAI server, and the assistant configured to use it.

    Backoff is shortened so retry tests do not sleep; everything else is as in production.
    """
    server = FakeOpenAI().start()
    settings.AGORA_LLM = {
        "BASE_URL": server.base_url,
        "API_KEY": "test-key",
        "CHAT_MODEL": "fake-chat",
        "EMBEDDING_MODEL": "fake-embedding",
        "TIMEOUT_S": 5.0,
        "MAX_RETRIES": 2,
        "TOKEN_BUDGET_PER_CONVERSATION": 1_000_000,
        "BACKOFF_S": 0.001,
    }
    yield server
    server.stop()


@pytest.fixture
def offline(settings: Settings) -> None:
    """No endpoint configured: the assistant runs its offline provider."""
    settings.AGORA_LLM = {**settings.AGORA_LLM, "BASE_URL": ""}
