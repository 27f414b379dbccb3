"""The sensitivity line: each snapshot also clusters without the flagged participants."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from clustering import analyze
from deliberation.models import Conversation, Participant, Snapshot, Vote
from deliberation.services.sensitivity import TOP_CONSENSUS, top_consensus
from tests.factories import ParticipantFactory
from tests.snapshot_data import Camps, clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db

BLOC = 10


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def _honest_camps() -> Camps:
    """Two camps whose members arrived an hour apart each: nobody looks like a burst."""
    camps = two_camps(per_camp=6)
    now = timezone.now()
    Conversation.objects.filter(pk=camps.conversation.pk).update(
        created_at=now - timedelta(days=30)
    )
    for hours, participant in enumerate(camps.camp_a + camps.camp_b, start=1):
        Participant.objects.filter(pk=participant.pk).update(
            created_at=now - timedelta(hours=hours)
        )
    return camps


def _bloc(camps: Camps) -> list[Participant]:
    """Ten accounts made in the same minute that disagree with everything."""
    bloc = [ParticipantFactory.create(conversation=camps.conversation) for _ in range(BLOC)]
    votes_write([(p, s, -1) for p in bloc for s in camps.statements])
    return bloc


def test_a_snapshot_records_the_outcome_without_the_flagged_bloc() -> None:
    camps = _honest_camps()
    bloc = _bloc(camps)

    snapshot = clustered(camps)

    stored = snapshot.results["sensitivity"]  # type: ignore[index]
    assert stored["flagged"] == BLOC
    assert stored["k"] == snapshot.k
    rows = np.array(
        list(
            Vote.objects.filter(conversation=camps.conversation).values_list(
                "participant_id", "statement_id", "value"
            )
        )
    )
    without = analyze(
        (rows[:, 0], rows[:, 1], rows[:, 2]), excluded=[p.pk for p in bloc], previous_state=None
    )
    assert stored["k_without"] == without.k == 2
    assert stored["top_consensus_without"] == top_consensus(without)
    assert len(stored["top_consensus"]) == min(TOP_CONSENSUS, len(camps.statements))
    assert "clustering_sensitivity" in snapshot.timings_ms


def test_without_flagged_participants_nothing_is_recomputed() -> None:
    snapshot = clustered(_honest_camps())
    assert snapshot.results["sensitivity"] == {"flagged": 0}  # type: ignore[index]

    page = Client().get(f"/report/{snapshot.conversation.slug}/").content.decode()
    assert "No participant was flagged by the abuse signals" in page


def test_the_report_and_its_json_show_the_sensitivity_line() -> None:
    camps = _honest_camps()
    _bloc(camps)
    snapshot = clustered(camps)
    stored = snapshot.results["sensitivity"]  # type: ignore[index]
    slug = camps.conversation.slug

    page = Client().get(f"/report/{slug}/").content.decode()
    document = json.loads(Client().get(f"/report/{slug}/{snapshot.pk}/export/json/").getvalue())

    same = "same" if stored["k"] == stored["k_without"] else f"{stored['k']} with them"
    assert (
        f"Without the {BLOC} participants flagged by the abuse signals (bursts of near-identical "
        f"voters): {stored['k_without']} groups ({same}), top 5 consensus statements"
    ) in page
    assert "statements unchanged." in page or " drops out." in page or " joins them." in page
    assert document["results"]["sensitivity"]["flagged"] == BLOC
    assert document["results"]["sensitivity"]["k_without"] == stored["k_without"]


def test_a_snapshot_from_before_the_comparison_shows_no_line() -> None:
    snapshot = clustered(_honest_camps())
    results = dict(snapshot.results)  # type: ignore[arg-type]
    del results["sensitivity"]
    Snapshot.objects.filter(pk=snapshot.pk).update(results=results)

    page = Client().get(f"/report/{snapshot.conversation.slug}/").content.decode()
    assert 'id="sensitivity"' not in page


def test_when_everyone_is_flagged_the_run_still_succeeds_with_nothing_left() -> None:
    # two_camps' members all arrive at once and vote alike within their camp: both camps
    # look like bursts.
    camps = two_camps(per_camp=4)

    snapshot = clustered(camps)

    assert snapshot.k == 2
    assert snapshot.results["sensitivity"] == {  # type: ignore[index]
        "flagged": 8,
        "k": 2,
        "top_consensus": snapshot.results["sensitivity"]["top_consensus"],  # type: ignore[index]
        "k_without": 0,
        "top_consensus_without": [],
    }
