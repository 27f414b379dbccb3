"""The model behind the assistant: any OpenAI-compatible server through the ``openai`` SDK.

Configuration is ``settings.AGORA_LLM`` (the SDK's own OPENAI_BASE_URL and OPENAI_API_KEY);
with no base URL the offline provider answers, which refuses every model call so that each
feature falls back to its offline behaviour.

Retries are ours, not the SDK's (``max_retries=0``): each attempt is its own ledger row, so
moderators see every rate limit and timeout, and the backoff honours ``Retry-After``.
When someone is waiting on the answer (submitting a statement), ``get_provider(interactive=
True)`` asks once per call, and all its calls together get ``INTERACTIVE_TIMEOUT_S``: a slow
model then costs them that long at most before the caller's local fallback.
Answers are cached by a hash of everything sent (model, messages, schema): the same question
is never paid for twice, and a cache hit is ledgered as such.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import jsonschema
import numpy as np
import numpy.typing as npt
import openai
from django.conf import settings

from deliberation.assistant.ledger import ai_call_record, ai_tokens_spent
from deliberation.models import Conversation
from deliberation.models.assistant import AICall, AIOutcome, AIPurpose

FloatMatrix = npt.NDArray[np.float32]
Message = dict[str, str]

NO_TIME_LEFT = "No time was left for the model in this request."
OFFLINE_LIMITATION = "No AI model is configured: the assistant is working offline."
BUDGET_LIMITATION = "This conversation's AI budget is used up: the assistant is working offline."
FAILED_LIMITATION = "The AI model did not answer: the assistant is working offline for now."

_EMBED_BATCH = 256
_MAX_BACKOFF_S = 20.0


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    api_key: str
    chat_model: str
    embedding_model: str
    timeout_s: float
    max_retries: int
    token_budget: int
    backoff_s: float
    response_format: str
    interactive_timeout_s: float

    @property
    def online(self) -> bool:
        return bool(self.base_url)


def llm_config() -> LLMConfig:
    raw = settings.AGORA_LLM
    return LLMConfig(
        base_url=raw.get("BASE_URL", ""),
        # A local server needs no key, but the SDK refuses to start without one.
        api_key=raw.get("API_KEY") or "not-needed",
        chat_model=raw.get("CHAT_MODEL", ""),
        embedding_model=raw.get("EMBEDDING_MODEL", ""),
        timeout_s=float(raw.get("TIMEOUT_S", 30.0)),
        max_retries=int(raw.get("MAX_RETRIES", 3)),
        token_budget=int(raw.get("TOKEN_BUDGET_PER_CONVERSATION", 0)),
        backoff_s=float(raw.get("BACKOFF_S", 0.5)),
        # "json_schema" (OpenAI, vLLM, llama.cpp, Ollama) or "json_object" for servers that
        # only know JSON mode; the schema is then checked here either way.
        response_format=raw.get("RESPONSE_FORMAT", "json_schema"),
        interactive_timeout_s=float(raw.get("INTERACTIVE_TIMEOUT_S", 2.0)),
    )


class AssistantUnavailable(Exception):
    """The model cannot answer: the caller falls back and shows ``limitation`` to people."""

    def __init__(self, limitation: str) -> None:
        super().__init__(limitation)
        self.limitation = limitation


@dataclass(frozen=True)
class ChatAnswer:
    data: dict[str, Any]
    call: AICall


class _InvalidOutput(Exception):
    pass


@dataclass(frozen=True)
class _CallContext:
    """What every ledger row of one logical call shares."""

    conversation: Conversation | None
    purpose: AIPurpose
    model: str
    input_hash: str
    statement_ids: list[int]
    prompt_version: str = ""
    provider: str = "openai"
    prompt: Sequence[Message] = ()

    def record(self, outcome: AIOutcome, **details: Any) -> AICall:
        return ai_call_record(
            conversation=self.conversation,
            purpose=self.purpose,
            provider=self.provider,
            model=self.model,
            prompt_version=self.prompt_version,
            input_hash=self.input_hash,
            statement_ids=self.statement_ids,
            prompt=self.prompt,
            outcome=outcome,
            **details,
        )


def input_hash(payload: object) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


class Provider(Protocol):
    """What every feature asks of a model; ``AssistantUnavailable`` means "fall back"."""

    name: str
    online: bool
    chat_model: str
    embedding_model: str

    def chat_json(
        self,
        *,
        purpose: AIPurpose,
        prompt_version: str,
        messages: Sequence[Message],
        schema_name: str,
        schema: dict[str, Any],
        conversation: Conversation | None,
        statement_ids: Iterable[int] = (),
    ) -> ChatAnswer:
        """The model's JSON answer, valid against ``schema``."""
        ...

    def embed(
        self,
        *,
        texts: Sequence[str],
        conversation: Conversation | None,
        statement_ids: Iterable[int] = (),
    ) -> FloatMatrix:
        """Unit-length embeddings, one row per text."""
        ...


class OfflineProvider:
    """No model: every call is refused (and the refusal ledgered) so features fall back."""

    name = "offline"
    online = False
    chat_model = ""
    embedding_model = ""

    def chat_json(
        self,
        *,
        purpose: AIPurpose,
        prompt_version: str,
        messages: Sequence[Message],
        schema_name: str,
        schema: dict[str, Any],
        conversation: Conversation | None,
        statement_ids: Iterable[int] = (),
    ) -> ChatAnswer:
        ai_call_record(
            conversation=conversation,
            purpose=purpose,
            provider=self.name,
            outcome=AIOutcome.OFFLINE,
            prompt_version=prompt_version,
            statement_ids=statement_ids,
        )
        raise AssistantUnavailable(OFFLINE_LIMITATION)

    def embed(
        self,
        *,
        texts: Sequence[str],
        conversation: Conversation | None,
        statement_ids: Iterable[int] = (),
    ) -> FloatMatrix:
        raise AssistantUnavailable(OFFLINE_LIMITATION)


class OpenAIProvider:
    name = "openai"
    online = True

    def __init__(
        self,
        config: LLMConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        deadline_s: float | None = None,
    ):
        """``deadline_s``: the time every call of this provider may take together."""
        self.config = config
        self._deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self.chat_model = config.chat_model
        self.embedding_model = config.embedding_model
        self._sleep = sleep
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=config.timeout_s,
            max_retries=0,
        )

    def chat_json(
        self,
        *,
        purpose: AIPurpose,
        prompt_version: str,
        messages: Sequence[Message],
        schema_name: str,
        schema: dict[str, Any],
        conversation: Conversation | None,
        statement_ids: Iterable[int] = (),
    ) -> ChatAnswer:
        ids = list(statement_ids)
        key = input_hash({"model": self.chat_model, "messages": list(messages), "schema": schema})
        ledger = _CallContext(
            conversation=conversation,
            purpose=purpose,
            model=self.chat_model,
            input_hash=key,
            statement_ids=ids,
            prompt_version=prompt_version,
            prompt=messages,
        )
        cached = (
            AICall.objects.filter(
                input_hash=key, outcome=AIOutcome.OK, provider=self.name, model=self.chat_model
            )
            .order_by("-id")
            .first()
        )
        if cached is not None:
            call = ledger.record(AIOutcome.CACHED, output=cached.output)
            return ChatAnswer(data=json.loads(cached.output), call=call)
        self._check_budget(conversation, ledger)

        def attempt(client: openai.OpenAI) -> tuple[Any, str, dict[str, Any]]:
            response = client.chat.completions.create(  # type: ignore[call-overload]
                model=self.chat_model,
                messages=list(messages),
                response_format=self._response_format(schema_name, schema),
            )
            content = response.choices[0].message.content or ""
            try:
                data = json.loads(content)
                jsonschema.validate(data, schema)
            except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
                raise _InvalidOutput(str(exc)[:500]) from None
            return response.usage, content, data

        data, call = self._with_retries(attempt, ledger)
        return ChatAnswer(data=data, call=call)

    def embed(
        self,
        *,
        texts: Sequence[str],
        conversation: Conversation | None,
        statement_ids: Iterable[int] = (),
    ) -> FloatMatrix:
        ids = list(statement_ids)
        rows: list[FloatMatrix] = []
        for start in range(0, len(texts), _EMBED_BATCH):
            batch = list(texts[start : start + _EMBED_BATCH])
            ledger = _CallContext(
                conversation=conversation,
                purpose=AIPurpose.EMBEDDING,
                model=self.embedding_model,
                input_hash=input_hash({"model": self.embedding_model, "input": batch}),
                statement_ids=ids,
            )
            self._check_budget(conversation, ledger)

            def attempt(
                client: openai.OpenAI, batch: list[str] = batch
            ) -> tuple[Any, str, FloatMatrix]:
                response = client.embeddings.create(model=self.embedding_model, input=batch)
                ordered = sorted(response.data, key=lambda item: item.index)
                if len(ordered) != len(batch):
                    raise _InvalidOutput(f"{len(ordered)} embeddings for {len(batch)} texts")
                matrix = np.asarray([item.embedding for item in ordered], dtype=np.float32)
                return response.usage, f"{matrix.shape[0]} vectors of {matrix.shape[1]}", matrix

            matrix, _ = self._with_retries(attempt, ledger)
            rows.append(normalize_rows(matrix))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(rows)

    def _response_format(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if self.config.response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        }

    def _check_budget(self, conversation: Conversation | None, ledger: _CallContext) -> None:
        # A soft cap: concurrent calls for one conversation may each pass this check and
        # overrun it by one answer each. Locking the conversation for the length of a model
        # call would serialise every participant behind the slowest request.
        if conversation is None or self.config.token_budget <= 0:
            return
        spent = ai_tokens_spent(conversation=conversation)
        if spent >= self.config.token_budget:
            ledger.record(
                AIOutcome.BUDGET_EXHAUSTED,
                detail=f"{spent} tokens spent of {self.config.token_budget}",
            )
            raise AssistantUnavailable(BUDGET_LIMITATION)

    def _client_in_time(self, ledger: _CallContext, number: int) -> openai.OpenAI:
        """The client, with its timeout cut to what is left of the deadline, if there is one."""
        if self._deadline is None:
            return self._client
        left = self._deadline - time.monotonic()
        if left <= 0:
            ledger.record(AIOutcome.TIMEOUT, detail=NO_TIME_LEFT, attempt=number)
            raise AssistantUnavailable(FAILED_LIMITATION)
        return self._client.with_options(timeout=min(left, self.config.timeout_s))

    def _with_retries(
        self, attempt: Callable[[openai.OpenAI], tuple[Any, str, Any]], ledger: _CallContext
    ) -> tuple[Any, AICall]:
        tries = self.config.max_retries + 1
        for number in range(1, tries + 1):
            client = self._client_in_time(ledger, number)
            started = time.monotonic()
            retry_after: float | None = None
            try:
                usage, output, result = attempt(client)
            except openai.APITimeoutError as exc:
                outcome, detail, retryable = AIOutcome.TIMEOUT, str(exc), True
            except openai.RateLimitError as exc:
                outcome, detail, retryable = AIOutcome.RATE_LIMITED, str(exc), True
                retry_after = _retry_after(exc.response)
            except openai.APIConnectionError as exc:
                outcome, detail, retryable = AIOutcome.ERROR, str(exc), True
            except openai.APIStatusError as exc:
                outcome, detail = AIOutcome.ERROR, f"HTTP {exc.status_code}: {exc.message}"
                retryable = exc.status_code >= 500 or exc.status_code in (408, 409)
            except _InvalidOutput as exc:
                outcome, detail, retryable = AIOutcome.INVALID_OUTPUT, str(exc), True
            else:
                call = ledger.record(
                    AIOutcome.OK,
                    output=output,
                    prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                    completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                    latency_ms=_elapsed_ms(started),
                    attempt=number,
                )
                return result, call
            ledger.record(
                outcome, detail=detail[:2000], latency_ms=_elapsed_ms(started), attempt=number
            )
            if not retryable or number == tries:
                break
            self._sleep(self._backoff(number, retry_after))
        raise AssistantUnavailable(FAILED_LIMITATION)

    def _backoff(self, number: int, retry_after: float | None) -> float:
        exponential = self.config.backoff_s * 2 ** (number - 1)
        # Jitter spreads out the retries of many workers hit by the same rate limit.
        wait = max(exponential * random.uniform(0.5, 1.0), retry_after or 0.0)
        return min(wait, _MAX_BACKOFF_S)


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def normalize_rows(matrix: FloatMatrix) -> FloatMatrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def get_provider(*, interactive: bool = False) -> Provider:
    """The configured provider; ``interactive`` when a person waits on its answers."""
    config = llm_config()
    if not config.online:
        return OfflineProvider()
    if interactive:
        return OpenAIProvider(
            replace(config, max_retries=0), deadline_s=config.interactive_timeout_s
        )
    return OpenAIProvider(config)
