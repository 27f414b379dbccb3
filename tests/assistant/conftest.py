from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from deliberation.models import Snapshot
from deliberation.services.snapshots import snapshot_run
from tests.assistant.data import named_camps
from tests.fake_openai import FakeOpenAI
from tests.snapshot_data import Camps, two_camps


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


@pytest.fixture
def camps_snapshot() -> Snapshot:
    """A real snapshot of two camps that split on every statement but the last."""
    camps = two_camps(per_camp=12, n_statements=6)
    snapshot = snapshot_run(
        snapshot_id=Snapshot.objects.create(conversation_id=camps.conversation.pk).pk
    )
    assert snapshot is not None and snapshot.k == 2
    return Snapshot.objects.get(pk=snapshot.pk)


@pytest.fixture
def camps() -> Camps:
    return named_camps()
