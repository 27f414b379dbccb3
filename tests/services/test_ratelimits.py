"""Rate limits: the client address they count, and counts shared between processes."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from pytest_django.fixtures import Settings

from deliberation.errors import RateLimited
from deliberation.models import Conversation, RateLimitAction
from deliberation.services.ratelimits import (
    RequestState,
    ratelimit_check,
    ratelimit_settings,
    request_client_address,
    request_state,
)
from tests.factories import ConversationFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


def address(**meta: str) -> str:
    request = RequestFactory().get("/")
    request.META.update(meta)
    return request_client_address(request)


@contextmanager
def from_address(client: str) -> Iterator[RequestState]:
    state = RequestState(address=client)
    token = request_state.set(state)
    try:
        yield state
    finally:
        request_state.reset(token)


def test_the_address_is_remote_addr_whatever_the_client_forwards() -> None:
    assert address(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="192.0.2.1") == "203.0.113.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "192.0.2.1, 198.51.100.4", "198.51.100.4"),
        (2, "192.0.2.1, 198.51.100.4, 10.0.0.9", "198.51.100.4"),
        # Fewer entries than proxies: the request did not come through them all.
        (2, "198.51.100.4", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_behind_trusted_proxies_the_address_is_the_entry_the_outermost_one_saw(
    settings: Settings, proxies: int, forwarded: str, expected: str
) -> None:
    settings.AGORA_TRUSTED_PROXY_COUNT = proxies
    assert address(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded) == expected


def test_the_trusted_proxy_header_can_be_another_one(settings: Settings) -> None:
    settings.AGORA_TRUSTED_PROXY_COUNT = 1
    settings.AGORA_TRUSTED_PROXY_HEADER = "X-Real-IP"
    assert address(REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="198.51.100.4") == "198.51.100.4"


def test_ipv6_addresses_count_per_64_block() -> None:
    assert address(REMOTE_ADDR="2001:db8:1:2:aaaa::1") == address(REMOTE_ADDR="2001:db8:1:2::ff")
    assert address(REMOTE_ADDR="2001:db8:1:2::1") == "2001:db8:1:2::/64"


def test_a_refusal_at_one_address_leaves_the_conversation_budget_to_others(
    settings: Settings,
) -> None:
    settings.AGORA_RATE_LIMITS = {"vote": {"address": 2, "conversation": 3}}
    conversation = ConversationFactory.create()
    with from_address("203.0.113.7") as state:
        for _ in range(2):
            ratelimit_check(action=RateLimitAction.VOTE, conversation=conversation)
        for _ in range(5):
            with pytest.raises(RateLimited, match="from your network address"):
                ratelimit_check(action=RateLimitAction.VOTE, conversation=conversation)
        assert state.retry_after is not None and 1 <= state.retry_after <= 60
    with from_address("198.51.100.1"):
        ratelimit_check(action=RateLimitAction.VOTE, conversation=conversation)
        with pytest.raises(RateLimited, match="in this conversation"):
            ratelimit_check(action=RateLimitAction.VOTE, conversation=conversation)


def test_without_redis_the_local_cache_counts(settings: Settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.AGORA_RATE_LIMITS = {"statement": {"participant": 2}}
    participant = ParticipantFactory.create()
    for _ in range(2):
        ratelimit_check(
            action=RateLimitAction.STATEMENT,
            conversation=participant.conversation,
            participant=participant,
        )
    with pytest.raises(RateLimited, match="from you"):
        ratelimit_check(
            action=RateLimitAction.STATEMENT,
            conversation=participant.conversation,
            participant=participant,
        )


def test_the_limits_are_the_defaults_with_the_settings_overrides(settings: Settings) -> None:
    settings.AGORA_RATE_LIMITS = {"statement": {"address": 7}}
    window, limits = ratelimit_settings()
    by_action = {limits.action: limits for limits in limits}
    statement = by_action[RateLimitAction.STATEMENT]
    assert (window, statement.address) == (60, 7)
    assert statement.participant and statement.conversation
    assert by_action[RateLimitAction.JOIN].participant is None


# A second process counting the same conversation: a fresh interpreter, its own Redis
# connection. Counting reads only the conversation's id: it needs no database.
OTHER_PROCESS = """
import django, sys
django.setup()
from deliberation.models import Conversation, RateLimitAction
from deliberation.services import ratelimits
ratelimits.KEY_PREFIX = sys.argv[1]
conversation = Conversation(pk=int(sys.argv[2]))
for _ in range(3):
    ratelimits.ratelimit_check(action=RateLimitAction.ASSISTANT, conversation=conversation)
print("counted")
"""


def test_two_processes_share_the_count_through_redis(
    settings: Settings, ratelimit_counters_per_test: str
) -> None:
    assert "RedisCache" in django_settings.CACHES["default"]["BACKEND"], "needs REDIS_URL"
    settings.AGORA_RATE_LIMITS = {"assistant": {"conversation": 4}}
    conversation: Conversation = ConversationFactory.create()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deliberation.settings",
        "AGORA_RATE_LIMITS": '{"assistant": {"conversation": 4}}',
    }
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, ratelimit_counters_per_test, str(conversation.pk)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "counted", done.stderr
    ratelimit_check(action=RateLimitAction.ASSISTANT, conversation=conversation)
    with pytest.raises(RateLimited):
        ratelimit_check(action=RateLimitAction.ASSISTANT, conversation=conversation)
