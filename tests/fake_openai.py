"""A fake OpenAI-compatible server, over real HTTP, for the tests and the benchmarks.

It answers ``POST /v1/chat/completions`` (``response_format`` json_schema or json_object) and
``POST /v1/embeddings`` the way the OpenAI API does, so the real ``openai`` SDK runs end to end,
failures included. A test scripts it by queueing what the next requests get: a JSON answer,
raw text (for malformed output), an HTTP error (429 with Retry-After, 500, ...) or a stall
longer than the client's timeout. Every request body is kept for assertions.

A test may also script answers per response schema (``queue_schema``, ``answer_schema``), so
that one kind of call (the summary's verification, say) gets its own answers whatever order
the calls come in. With nothing queued, chat completions are answered by ``chat_default``
when a test sets one (else 500), and embeddings by ``hashed_embedding``: a deterministic bag
of hashed character n-grams and words. It is a stand-in that makes similar texts similar,
not a language model.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

EMBEDDING_DIMS = 512
_WORD = re.compile(r"[\w']+")


@dataclass(frozen=True)
class Failure:
    """Answer the next request with this HTTP error."""

    status: int
    retry_after: float | None = None
    message: str = "scripted failure"


@dataclass(frozen=True)
class Stall:
    """Answer the next request only after ``seconds``: longer than the client will wait."""

    seconds: float


ChatScript = dict[str, Any] | str | Failure | Stall
EmbeddingScript = list[list[float]] | Failure | Stall


def hashed_embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Character 3-5-grams and words of the lower-cased text, hashed into ``dims`` buckets."""
    lowered = " ".join(_WORD.findall(text.lower()))
    features = [lowered[i : i + n] for n in (3, 4, 5) for i in range(len(lowered) - n + 1)]
    features += [f"w:{word}" for word in lowered.split()]
    vector = np.zeros(dims)
    for feature in features:
        digest = hashlib.md5(feature.encode(), usedforsecurity=False).digest()
        bucket = int.from_bytes(digest[:4], "little") % dims
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    return [float(value) for value in (vector / norm if norm else vector)]


def schema_name(body: dict[str, Any]) -> str:
    """The name of the JSON schema a chat request asks for ("" in JSON-object mode)."""
    return str(((body.get("response_format") or {}).get("json_schema") or {}).get("name", ""))


def data_block(message: str) -> Any:
    """The JSON inside the last ``<data>`` block of a prompt message."""
    start = message.rindex("<data>") + len("<data>")
    return json.loads(message[start : message.index("</data>", start)])


@dataclass
class FakeOpenAI:
    chat_default: Callable[[dict[str, Any]], dict[str, Any] | str] | None = None
    chat_queue: deque[ChatScript] = field(default_factory=deque)
    schema_queues: dict[str, deque[ChatScript]] = field(default_factory=dict)
    schema_answers: dict[str, Callable[[dict[str, Any]], ChatScript]] = field(default_factory=dict)
    embedding_queue: deque[EmbeddingScript] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def queue_chat(self, *scripts: ChatScript) -> None:
        self.chat_queue.extend(scripts)

    def queue_schema(self, name: str, *scripts: ChatScript) -> None:
        """What the next requests for the JSON schema ``name`` get, before anything else."""
        self.schema_queues.setdefault(name, deque()).extend(scripts)

    def answer_schema(self, name: str, answer: Callable[[dict[str, Any]], ChatScript]) -> None:
        """Answer every request for the JSON schema ``name`` (once its queue is empty)."""
        self.schema_answers[name] = answer

    def chat_requests(self, schema: str | None = None) -> list[dict[str, Any]]:
        """The chat requests received, or those for one JSON schema."""
        return [
            body
            for path, body in self.requests
            if path.endswith("/chat/completions")
            and (schema is None or schema_name(body) == schema)
        ]

    def queue_embeddings(self, *scripts: EmbeddingScript) -> None:
        self.embedding_queue.extend(scripts)

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                with fake._lock:
                    fake.requests.append((self.path, body))
                if self.path == "/v1/chat/completions":
                    fake._answer_chat(self, body)
                elif self.path == "/v1/embeddings":
                    fake._answer_embeddings(self, body)
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first: that is what a stall is for

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _next(self, queue: deque[Any]) -> Any:
        with self._lock:
            return queue.popleft() if queue else None

    def _fail_or_stall(self, handler: Any, script: object) -> bool:
        if isinstance(script, Stall):
            time.sleep(script.seconds)
            handler._send(500, {"error": {"message": "stalled"}})
            return True
        if isinstance(script, Failure):
            headers = {} if script.retry_after is None else {"Retry-After": str(script.retry_after)}
            error = {"message": script.message, "type": "scripted", "code": str(script.status)}
            handler._send(script.status, {"error": error}, headers)
            return True
        return False

    def _answer_chat(self, handler: Any, body: dict[str, Any]) -> None:
        kind = (body.get("response_format") or {}).get("type")
        if kind not in ("json_schema", "json_object"):
            handler._send(400, {"error": {"message": "this fake only answers in JSON mode"}})
            return
        name = schema_name(body)
        script = self._next(self.schema_queues.get(name, deque()))
        if script is None and name in self.schema_answers:
            script = self.schema_answers[name](body)
        if script is None:
            script = self._next(self.chat_queue)
        if script is None and self.chat_default is not None:
            script = self.chat_default(body)
        if script is None:
            handler._send(500, {"error": {"message": "no chat response scripted"}})
            return
        if self._fail_or_stall(handler, script):
            return
        content = script if isinstance(script, str) else json.dumps(script)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(content.split())
        handler._send(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def _answer_embeddings(self, handler: Any, body: dict[str, Any]) -> None:
        given = body.get("input") or []
        texts: list[str] = [given] if isinstance(given, str) else list(given)
        script = self._next(self.embedding_queue)
        if self._fail_or_stall(handler, script):
            return
        vectors = script if script is not None else [hashed_embedding(t) for t in texts]
        encoded: list[Any] = vectors
        if body.get("encoding_format") == "base64":
            # What the SDK asks for by default: little-endian float32, base64-encoded.
            encoded = [
                base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vectors
            ]
        tokens = sum(len(t.split()) for t in texts)
        handler._send(
            200,
            {
                "object": "list",
                "model": body.get("model", "fake"),
                "data": [
                    {"object": "embedding", "index": i, "embedding": vector}
                    for i, vector in enumerate(encoded)
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )
