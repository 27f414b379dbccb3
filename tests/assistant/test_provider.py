from typing import Any

import numpy as np
import pytest
from pytest_django.fixtures import Settings

from deliberation.assistant.ledger import PROMPT_MESSAGE_MAX_CHARS, ai_call_record
from deliberation.assistant.provider import (
    BUDGET_LIMITATION,
    FAILED_LIMITATION,
    NO_TIME_LEFT,
    OFFLINE_LIMITATION,
    AssistantUnavailable,
    OfflineProvider,
    OpenAIProvider,
    get_provider,
    llm_config,
)
from deliberation.models import AICall, AIOutcome, AIPurpose
from tests.factories import ConversationFactory
from tests.fake_openai import Failure, FakeOpenAI, Stall

pytestmark = pytest.mark.django_db

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def ask(provider: Any, question: str = "Say hello", **kwargs: Any) -> Any:
    return provider.chat_json(
        purpose=AIPurpose.CHAT,
        prompt_version="test-v1",
        messages=[{"role": "user", "content": question}],
        schema_name="answer",
        schema=SCHEMA,
        conversation=kwargs.pop("conversation", None),
        statement_ids=kwargs.pop("statement_ids", ()),
    )


def outcomes() -> list[str]:
    return list(AICall.objects.order_by("id").values_list("outcome", flat=True))


def test_no_base_url_means_the_offline_provider(settings: Settings) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "BASE_URL": ""}

    assert isinstance(get_provider(), OfflineProvider)


def test_offline_provider_refuses_and_ledgers_the_fallback() -> None:
    conversation = ConversationFactory.create()

    with pytest.raises(AssistantUnavailable) as refused:
        ask(OfflineProvider(), conversation=conversation, statement_ids=[3, 1])

    assert refused.value.limitation == OFFLINE_LIMITATION
    call = AICall.objects.get()
    assert (call.outcome, call.provider, call.conversation) == ("offline", "offline", conversation)
    assert call.input_statement_ids == [1, 3]


def test_chat_answer_is_parsed_and_ledgered(fake_openai: FakeOpenAI) -> None:
    conversation = ConversationFactory.create()
    fake_openai.queue_chat({"answer": "hello"})

    answer = ask(get_provider(), conversation=conversation, statement_ids=[7])

    assert answer.data == {"answer": "hello"}
    call = AICall.objects.get()
    assert call.outcome == AIOutcome.OK
    assert (call.model, call.prompt_version) == ("fake-chat", "test-v1")
    assert call.input_statement_ids == [7]
    assert call.prompt_tokens == 2 and call.completion_tokens > 0
    assert call.output == '{"answer": "hello"}'
    request = fake_openai.chat_requests()[0]
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"] == SCHEMA


def test_every_attempt_is_ledgered_with_the_full_prompt(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_chat(Failure(500), {"answer": "hello"})
    provider = OpenAIProvider(llm_config(), sleep=lambda seconds: None)

    ask(provider, "Say hello to <everyone>")
    ask(provider, "Say hello to <everyone>")  # from the cache

    sent = fake_openai.chat_requests()[-1]["messages"]
    assert sent == [{"role": "user", "content": "Say hello to <everyone>"}]
    calls = AICall.objects.order_by("id")
    assert [call.outcome for call in calls] == ["error", "ok", "cached"]
    assert all(call.prompt == sent for call in calls)
    assert calls[1].output == calls[2].output == '{"answer": "hello"}'


def test_a_huge_prompt_is_sent_whole_and_stored_bounded(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_chat({"answer": "long"})
    question = "word " * PROMPT_MESSAGE_MAX_CHARS

    ask(get_provider(), question)

    assert fake_openai.chat_requests()[0]["messages"][0]["content"] == question
    stored = AICall.objects.get().prompt[0]["content"]
    assert stored.startswith(question[:1000])
    assert len(stored) < PROMPT_MESSAGE_MAX_CHARS + 100
    assert stored.endswith(
        f"[{len(question) - PROMPT_MESSAGE_MAX_CHARS} more characters not stored]"
    )


def test_the_same_question_is_answered_from_the_cache(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_chat({"answer": "hello"})
    provider = get_provider()

    ask(provider)
    again = ask(provider)

    assert again.data == {"answer": "hello"}
    assert len(fake_openai.chat_requests()) == 1
    assert outcomes() == ["ok", "cached"]


def test_rate_limit_is_retried_after_the_servers_delay(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_chat(Failure(429, retry_after=3), {"answer": "late"})
    waits: list[float] = []

    answer = ask(OpenAIProvider(llm_config(), sleep=waits.append))

    assert answer.data == {"answer": "late"}
    assert outcomes() == ["rate_limited", "ok"]
    assert waits == [3.0]
    assert AICall.objects.order_by("id").last().attempt == 2  # type: ignore[union-attr]


def test_server_errors_back_off_exponentially_then_give_up(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_chat(Failure(500), Failure(502), Failure(503))
    waits: list[float] = []

    with pytest.raises(AssistantUnavailable) as failed:
        ask(OpenAIProvider(llm_config(), sleep=waits.append))

    assert failed.value.limitation == FAILED_LIMITATION
    assert outcomes() == ["error", "error", "error"]
    assert len(waits) == 2 and waits[1] > waits[0] * 0.9


def test_a_client_error_is_not_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_chat(Failure(400, message="bad model"), {"answer": "never asked"})

    with pytest.raises(AssistantUnavailable):
        ask(get_provider())

    assert outcomes() == ["error"]
    assert "HTTP 400" in AICall.objects.get().detail


def test_a_stalled_server_times_out_and_the_retry_succeeds(
    fake_openai: FakeOpenAI, settings: Settings
) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "TIMEOUT_S": 0.3}
    fake_openai.queue_chat(Stall(2.0), {"answer": "on time"})

    answer = ask(get_provider())

    assert answer.data == {"answer": "on time"}
    assert outcomes() == ["timeout", "ok"]


def test_an_interactive_provider_asks_once_and_stops_at_its_deadline(
    fake_openai: FakeOpenAI, settings: Settings
) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "INTERACTIVE_TIMEOUT_S": 0.3}
    fake_openai.queue_chat(Stall(1.0), {"answer": "too late to be asked"})
    provider = get_provider(interactive=True)

    with pytest.raises(AssistantUnavailable):
        ask(provider)
    with pytest.raises(AssistantUnavailable):
        ask(provider, "Another question in the same request")

    assert outcomes() == ["timeout", "timeout"]
    assert AICall.objects.order_by("id").last().detail == NO_TIME_LEFT  # type: ignore[union-attr]
    assert len(fake_openai.chat_requests()) == 1
    assert ask(get_provider(interactive=True)).data == {"answer": "too late to be asked"}


@pytest.mark.parametrize("bad", ["this is not JSON", '{"answer": 42}', '{"other": "x"}'])
def test_output_that_is_not_the_requested_json_is_retried(
    fake_openai: FakeOpenAI, bad: str
) -> None:
    fake_openai.queue_chat(bad, {"answer": "fixed"})

    answer = ask(get_provider())

    assert answer.data == {"answer": "fixed"}
    assert outcomes() == ["invalid_output", "ok"]


def test_json_object_mode_still_checks_the_schema(
    fake_openai: FakeOpenAI, settings: Settings
) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "RESPONSE_FORMAT": "json_object"}
    fake_openai.queue_chat('{"wrong": true}', {"answer": "ok"})

    ask(get_provider())

    assert fake_openai.chat_requests()[0]["response_format"] == {"type": "json_object"}
    assert outcomes() == ["invalid_output", "ok"]


def test_an_exhausted_budget_falls_back_without_calling_the_model(
    fake_openai: FakeOpenAI, settings: Settings
) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "TOKEN_BUDGET_PER_CONVERSATION": 100}
    conversation = ConversationFactory.create()
    other = ConversationFactory.create()
    ai_call_record(
        conversation=conversation,
        purpose=AIPurpose.SUMMARY,
        provider="openai",
        outcome=AIOutcome.OK,
        prompt_tokens=90,
        completion_tokens=10,
    )
    fake_openai.queue_chat({"answer": "for the other conversation"})

    with pytest.raises(AssistantUnavailable) as refused:
        ask(get_provider(), conversation=conversation)
    answered = ask(get_provider(), conversation=other)

    assert refused.value.limitation == BUDGET_LIMITATION
    assert answered.data["answer"] == "for the other conversation"
    assert len(fake_openai.chat_requests()) == 1
    assert outcomes() == ["ok", "budget_exhausted", "ok"]


def test_embeddings_are_unit_vectors_in_input_order(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_embeddings([[3.0, 4.0], [0.0, 2.0]])

    vectors = get_provider().embed(texts=["first", "second"], conversation=None)

    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 1.0]], atol=1e-6)
    call = AICall.objects.get()
    assert (call.purpose, call.outcome, call.output) == ("embedding", "ok", "2 vectors of 2")


def test_embedding_failures_are_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_embeddings(Failure(503))

    vectors = get_provider().embed(texts=["a statement"], conversation=None)

    assert vectors.shape == (1, 512)
    assert outcomes() == ["error", "ok"]
