"""Rate limits: how many joins, votes, statements, draft checks and assistant questions one
participant, one client address and one conversation may make per window.

Counted in the shared cache so every web process sees the same counts: Redis (one atomic
script per request, a single round trip), or, with no ``REDIS_URL`` (the embedded demo, one
process), the local-memory cache. The client address is the request's, put in
:data:`request_state` by :class:`deliberation.middleware.RateLimitMiddleware`, which also
adds the Retry-After header to a refusal; services called outside a request (commands,
tasks) have no address and are counted per participant and conversation only.
"""

import ipaddress
import math
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache as memoize
from typing import NoReturn, cast

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from redis.commands.core import Script

from deliberation.errors import RateLimited
from deliberation.models import Conversation, Participant, RateLimitAction, RateLimitHit

PARTICIPANT, ADDRESS, CONVERSATION = "participant", "address", "conversation"
SCOPES = (PARTICIPANT, ADDRESS, CONVERSATION)

# The most of each action per window, per participant, per client address and per
# conversation. A person votes every few seconds and writes a statement a minute at most;
# a classroom or an office behind one NAT address holds dozens of people, so the
# per-address limits are sized for about fifty of them at once. settings.AGORA_RATE_LIMITS
# overrides any of these, e.g. {"statement": {"address": 30}}.
DEFAULT_RATE_LIMITS: dict[str, dict[str, int]] = {
    RateLimitAction.JOIN: {ADDRESS: 120, CONVERSATION: 3000},
    RateLimitAction.VOTE: {PARTICIPANT: 60, ADDRESS: 1500, CONVERSATION: 60000},
    RateLimitAction.STATEMENT: {PARTICIPANT: 6, ADDRESS: 60, CONVERSATION: 600},
    RateLimitAction.DRAFT_CHECK: {PARTICIPANT: 60, ADDRESS: 1200, CONVERSATION: 6000},
    RateLimitAction.ASSISTANT: {PARTICIPANT: 20, ADDRESS: 300, CONVERSATION: 2000},
    # Each one sends a mail to any address typed in: few per network address, so the form
    # cannot be used to flood inboxes (and email_link_send caps each recipient as well).
    RateLimitAction.EMAIL: {ADDRESS: 10, CONVERSATION: 300},
}
DEFAULT_WINDOW_S = 60
KEY_PREFIX = "agora:ratelimit:"

_NOUNS = {
    RateLimitAction.JOIN: "new participants",
    RateLimitAction.VOTE: "votes",
    RateLimitAction.STATEMENT: "statements",
    RateLimitAction.DRAFT_CHECK: "draft checks",
    RateLimitAction.ASSISTANT: "questions to the assistant",
    RateLimitAction.EMAIL: "email links",
}
_WHO = {
    PARTICIPANT: "from you",
    ADDRESS: "from your network address",
    CONVERSATION: "in this conversation",
}


@dataclass
class RequestState:
    """What rate limits know of the request being served: its client address, and how long
    to wait when one of its actions was refused (the response's Retry-After)."""

    address: str
    retry_after: int | None = None


# Set by RateLimitMiddleware for each request. A context variable rather than an argument:
# the services that count (vote_cast, statement_create, ...) are called from views, the API
# and the assistant alike, and the address is a property of the request, like the session.
request_state: ContextVar[RequestState | None] = ContextVar("request_state", default=None)


@dataclass(frozen=True)
class ActionLimits:
    """The most of one action per window, per scope; None: that scope has no limit."""

    action: RateLimitAction
    participant: int | None
    address: int | None
    conversation: int | None


def ratelimit_settings() -> tuple[int, list[ActionLimits]]:
    """The window in seconds and every action's limits: the defaults with the settings'
    overrides. The console shows these."""
    overrides: dict[str, dict[str, int]] = getattr(settings, "AGORA_RATE_LIMITS", {})
    window = int(getattr(settings, "AGORA_RATE_LIMIT_WINDOW_S", DEFAULT_WINDOW_S))
    limits = []
    for action, defaults in DEFAULT_RATE_LIMITS.items():
        merged = {**defaults, **overrides.get(action, {})}
        limits.append(
            ActionLimits(
                action=RateLimitAction(action),
                **{
                    scope: None if merged.get(scope) is None else int(merged[scope])
                    for scope in SCOPES
                },
            )
        )
    return window, limits


def ratelimit_check(
    *,
    action: RateLimitAction,
    conversation: Conversation,
    participant: Participant | None = None,
) -> None:
    """Count one ``action`` against every limit that applies, or refuse it with
    :class:`RateLimited` (a 429 with Retry-After) and count nothing.

    A refused request does not use up the wider budgets: one address flooding is refused at
    its own limit and leaves the conversation's for everyone else.
    """
    window, all_limits = ratelimit_settings()
    action_limits = next(limits for limits in all_limits if limits.action == action)
    now = time.time()
    window_index = int(now // window)
    state = request_state.get()
    idents = {
        PARTICIPANT: participant.pk if participant is not None else None,
        ADDRESS: state.address if state is not None else None,
        CONVERSATION: conversation.pk,
    }
    scopes = [
        scope
        for scope in SCOPES
        if idents[scope] is not None and getattr(action_limits, scope) is not None
    ]
    if not scopes:
        return
    keys = [f"{KEY_PREFIX}{action}:{scope}:{idents[scope]}:{window_index}" for scope in scopes]
    over = _count(keys, [getattr(action_limits, scope) for scope in scopes], window)
    if over is None:
        return
    retry_after = max(1, math.ceil((window_index + 1) * window - now))
    if participant is not None:
        _hit_record(participant=participant, action=action, now=timezone.now())
    ratelimit_refuse(
        f"Too many {_NOUNS[action]} {_WHO[scopes[over]]} in the last "
        f"{_duration(window)}: wait {_duration(retry_after)} and try again.",
        retry_after=retry_after,
    )


def ratelimit_refuse(message: str, *, retry_after: int) -> NoReturn:
    """Refuse with :class:`RateLimited`, the response carrying Retry-After."""
    state = request_state.get()
    if state is not None:
        state.retry_after = retry_after
    raise RateLimited(message, retry_after=retry_after)


# Race: concurrent requests of one participant, address or conversation, in any number of
# processes. The script runs atomically on the Redis server: it reads every counter, refuses
# if one is full, else INCRements them all and sets their expiry (a fixed window: the key
# names the window and lives one window past its end), so a burst cannot slip under a limit
# together and a counter never outlives its window.
_COUNT_SCRIPT = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    return i
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return 0
"""
_local_lock = threading.Lock()


def _count(keys: list[str], limits: list[int], window: int) -> int | None:
    """Count one hit on every key, unless one is at its limit: then the index of that one."""
    script = _redis_script()
    if script is not None:
        # One round trip: EVALSHA (redis-py resends the script if the server lost it).
        over = int(script(keys=keys, args=[2 * window, *limits]))
        return over - 1 if over else None
    # No Redis: the local-memory cache of this one process (the demo). The lock makes the
    # same read-then-increment atomic between its threads.
    with _local_lock:
        counts = cache.get_many(keys)
        for index, (key, limit) in enumerate(zip(keys, limits, strict=True)):
            if counts.get(key, 0) >= limit:
                return index
        cache.set_many({key: counts.get(key, 0) + 1 for key in keys}, timeout=2 * window)
    return None


@memoize
def _redis_script_for(url: str) -> Script:
    return cast(Script, redis.Redis.from_url(url).register_script(_COUNT_SCRIPT))


def _redis_script() -> Script | None:
    """The counting script on the Redis server behind the default cache, if it is one."""
    default = settings.CACHES["default"]
    if default["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = default["LOCATION"]
    return _redis_script_for(location if isinstance(location, str) else location[0])


def _hit_record(*, participant: Participant, action: RateLimitAction, now: datetime) -> None:
    """One more refused request of this participant in this minute, for the moderators'
    abuse signals."""
    window_start = now.replace(second=0, microsecond=0)
    try:
        with transaction.atomic():
            RateLimitHit.objects.create(
                conversation_id=participant.conversation_id,
                participant=participant,
                action=action,
                window_start=window_start,
                last_hit_at=now,
            )
    except IntegrityError:
        # Race: refused writes of one window arrive together; the first inserts the row,
        # the others count themselves into it with an atomic increment.
        RateLimitHit.objects.filter(
            participant=participant, action=action, window_start=window_start
        ).update(hits=F("hits") + 1, last_hit_at=now)


def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def request_client_ip(request: HttpRequest) -> str:
    """The client's IP address: REMOTE_ADDR, unless settings.AGORA_TRUSTED_PROXY_COUNT says
    how many proxies of ours stand in front (each appends the address it received from to
    the header named by AGORA_TRUSTED_PROXY_HEADER, X-Forwarded-For by default): then the
    entry that many places from the right, the address our outermost proxy saw. Entries
    further left are whatever the client sent and are never trusted.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = int(getattr(settings, "AGORA_TRUSTED_PROXY_COUNT", 0))
    if proxies > 0:
        header = getattr(settings, "AGORA_TRUSTED_PROXY_HEADER", "X-Forwarded-For")
        entries = [entry.strip() for entry in request.headers.get(header, "").split(",")]
        entries = [entry for entry in entries if entry]
        if len(entries) >= proxies and _is_ip(entries[-proxies]):
            return entries[-proxies]
    return remote


def request_client_address(request: HttpRequest) -> str:
    """The address rate limits count the request under: its client IP, or for IPv6 its /64
    block, which one household or host is given whole."""
    address = request_client_ip(request)
    if not _is_ip(address):
        return address or "unknown"
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
