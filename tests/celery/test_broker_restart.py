"""The worker against a Redis broker that dies and comes back, under a stream of votes.

The broker here is a redis-server of this test's own on a free port (the shared Redis is
never restarted); it keeps nothing across a restart, so every message in it is lost.
"""

import time
from collections.abc import Callable, Iterator
from itertools import cycle
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest

from deliberation.models import Vote, VoteEvent
from deliberation.services.votes import vote_cast
from tests.celery.harness import WAIT_S, RedisServer, covering_snapshot, wait_for
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

# The worker runs with the shipped heartbeat and sweep settings; only the debounce is short.
SHIPPED = {"DEBOUNCE_S": 0.5}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def broker_url(own_redis: RedisServer) -> str:
    return own_redis.url


def test_the_worker_survives_a_broker_restart_and_the_groups_cover_every_acknowledged_vote(
    own_redis: RedisServer,
    start_worker: Callable[..., Popen[bytes]],
    tmp_path: Path,
    settings: Any,
) -> None:
    # The stream votes as fast as the machine goes, far beyond a person's pace: the
    # per-participant limit is not what this test is about.
    settings.AGORA_RATE_LIMITS = {"vote": {"participant": 1_000_000}}
    worker = start_worker(beat=True, timings=SHIPPED)
    conversation = ConversationFactory.create()
    statements = [StatementFactory.create(conversation=conversation) for _ in range(6)]
    participants = [ParticipantFactory.create(conversation=conversation) for _ in range(40)]
    pairs = cycle((p, s) for p in participants for s in statements)
    acknowledged: dict[tuple[int, int], int] = {}

    def stream(seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            participant, statement = next(pairs)
            value = len(acknowledged) % 3 - 1
            vote_cast(participant=participant, statement=statement, value=value)
            acknowledged[(participant.pk, statement.pk)] = value

    stream(2.0)
    own_redis.kill()
    stream(4.0)  # votes keep landing while the broker is down
    own_redis.start()
    back_at = time.monotonic()
    stream(3.0)
    last = VoteEvent.objects.filter(conversation=conversation).latest("id").pk

    wait_for(
        lambda: covering_snapshot(conversation.pk, last),
        timeout=WAIT_S,
        what="a snapshot covering the last vote after the broker restart",
    )
    print(f"groups covered the last vote {time.monotonic() - back_at:.1f} s after Redis was back")
    assert worker.poll() is None, "the worker exited when the broker went away"
    stored = dict(
        ((participant, statement), value)
        for participant, statement, value in Vote.objects.filter(
            conversation=conversation
        ).values_list("participant_id", "statement_id", "value")
    )
    assert stored == acknowledged
    log = (tmp_path / "worker-0.log").read_text(errors="replace")
    assert "Unrecoverable error" not in log
    assert log.count("Connected to redis://") >= 2  # it reconnected
