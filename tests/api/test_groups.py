import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from deliberation.models import Snapshot, SnapshotStatus, VoteEvent
from tests.factories import ConversationFactory
from tests.snapshot_data import clustered, log_in_as_first_of_camp_a, two_camps

pytestmark = pytest.mark.django_db


def test_groups_returns_the_latest_snapshot_with_groups_consensus_and_statistics(
    api_client: APIClient,
) -> None:
    camps = two_camps()
    snapshot = clustered(camps)

    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/groups/")

    assert response.status_code == 200
    body = response.json()
    assert body["snapshot_id"] == snapshot.pk
    assert body["watermark"] == VoteEvent.objects.latest("id").pk
    assert body["k"] == 2
    assert [(g["label"], g["size"]) for g in body["groups"]] == [("A", 12), ("B", 12)]
    first = body["groups"][0]["representative"][0]
    assert set(first) == {"statement", "direction", "p", "tally"}
    assert set(first["statement"]) == {"id", "external_id", "text"}
    assert set(first["tally"]) == {"agree", "disagree", "pass"}
    assert body["consensus"][0]["statement"]["id"] == camps.statements[-1].pk
    assert len(body["statements"]) == len(camps.statements)


def test_groups_before_any_snapshot_is_a_clear_json_404(api_client: APIClient) -> None:
    conversation = ConversationFactory.create()

    response = api_client.get(f"/api/v1/conversations/{conversation.slug}/groups/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "No opinion groups yet" in response.json()["error"]["message"]


def test_groups_hidden_by_the_moderators_are_refused(api_client: APIClient) -> None:
    camps = two_camps(per_camp=4)
    clustered(camps)
    camps.conversation.show_groups = False
    camps.conversation.save()

    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/groups/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_me_gives_my_group_position_and_votes_against_my_group(api_client: APIClient) -> None:
    camps = two_camps()
    clustered(camps)
    participant_id = log_in_as_first_of_camp_a(api_client, camps)

    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["participant_id"] == participant_id
    assert body["in_conv"] is True
    assert body["group"]["size"] == 12
    assert isinstance(body["x"], float) and isinstance(body["y"], float)
    assert len(body["comparisons"]) == len(camps.statements)
    assert all(c["agrees_with_group"] for c in body["comparisons"])


def test_me_for_a_visitor_who_has_not_taken_part_is_404(api_client: APIClient) -> None:
    camps = two_camps(per_camp=4)
    clustered(camps)

    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/me/")

    assert response.status_code == 404
    assert "not taken part" in response.json()["error"]["message"]


def test_snapshots_lists_the_history_newest_first(api_client: APIClient) -> None:
    camps = two_camps(per_camp=4)
    first = clustered(camps)
    Snapshot.objects.create(
        conversation=camps.conversation, status=SnapshotStatus.FAILED, error="x"
    )
    second = clustered(camps)

    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/snapshots/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows[0]["id"] == second.pk
    assert [r["status"] for r in rows] == ["succeeded", "failed", "succeeded"]
    assert rows[-1]["id"] == first.pk
    assert rows[0]["k"] == 2 and sum(rows[0]["group_sizes"].values()) == 8
    assert {"load", "compute"} <= set(rows[0]["timings_ms"])


def test_groups_are_served_from_the_cache_until_the_next_snapshot(api_client: APIClient) -> None:
    camps = two_camps()
    first = clustered(camps)
    url = f"/api/v1/conversations/{camps.conversation.slug}/groups/"
    assert api_client.get(url).json()["snapshot_id"] == first.pk

    with CaptureQueriesContext(connection) as queries:
        again = api_client.get(url)

    assert again.json()["snapshot_id"] == first.pk
    # The conversation, the latest snapshot and its groups all come from the cache.
    assert not queries.captured_queries
    second = clustered(camps)
    assert api_client.get(url).json()["snapshot_id"] == second.pk
