import json

import pytest
from rest_framework.test import APIClient

from deliberation.models import Visibility
from deliberation.services.report_export import snapshot_document
from tests.snapshot_data import clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db


def test_process_figures_come_with_their_definitions_and_match_the_json_export(
    api_client: APIClient,
) -> None:
    camps = two_camps()
    first = clustered(camps)
    votes_write([(p, camps.statements[i], 1) for p in camps.camp_b for i in (1, 3, 5)])
    second = clustered(camps)

    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/process/")

    assert response.status_code == 200
    body = response.json()
    assert body["snapshot"] == second.pk
    assert set(body["definitions"]) == {
        "polarization",
        "groups",
        "common_ground",
        "early_late",
        "opinion_change",
        "minority",
    }
    points = body["series"]["points"]
    assert [p["snapshot_id"] for p in points] == [first.pk, second.pk]
    assert [p["common_ground"] for p in points] == [0.125, 0.5]
    change = body["opinion_change"]
    # 12 people of camp B each changed 3 votes, all towards camp A's agreement.
    assert (change["changes"], change["participants_changed"]) == (36, 12)
    assert change["towards_other_groups"] == 36 and change["directions"] == {
        "disagree to agree": 36
    }
    document = snapshot_document(conversation=camps.conversation, snapshot=second)
    assert json.loads(json.dumps(document["process"])) == {
        key: value for key, value in body.items() if key != "snapshot"
    }

    frozen = api_client.get(
        f"/api/v1/conversations/{camps.conversation.slug}/process/?snapshot={first.pk}"
    ).json()
    assert [p["snapshot_id"] for p in frozen["series"]["points"]] == [first.pk]
    assert frozen["opinion_change"]["changes"] == 0


def test_process_figures_follow_the_reports_visibility(api_client: APIClient) -> None:
    camps = two_camps()
    clustered(camps)
    camps.conversation.visibility = Visibility.PRIVATE
    camps.conversation.save()
    response = api_client.get(f"/api/v1/conversations/{camps.conversation.slug}/process/")
    assert response.status_code == 404
