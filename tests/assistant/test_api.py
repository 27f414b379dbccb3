"""The assistant in the REST API (deliberation/api/assistant.py)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from deliberation.models import BridgingSuggestion, Statement
from tests.assistant.data import TEXTS, run_snapshot
from tests.factories import UserFactory
from tests.snapshot_data import Camps

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("offline")]


def browser(camps: Camps) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.get(reverse("v1:conversation-detail", args=[camps.conversation.slug]))
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


def test_draft_check_tiers_the_draft(camps: Camps) -> None:
    url = reverse("v1:assistant-draft-check", args=[camps.conversation.slug])

    answer = browser(camps).post(url, {"text": TEXTS[3].replace("every", "each")}, format="json")

    assert answer.status_code == 200
    assert answer.json()["tier"] == "duplicate"
    assert answer.json()["matches"][0]["statement"] == camps.statements[3].pk
    assert answer.json()["method"] == "local" and answer.json()["limitations"]


def test_draft_check_refuses_an_empty_draft_with_the_error_shape(camps: Camps) -> None:
    url = reverse("v1:assistant-draft-check", args=[camps.conversation.slug])

    answer = browser(camps).post(url, {"text": "  "}, format="json")

    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "text"


def test_chat_submit_needs_confirmation_for_a_near_duplicate(camps: Camps) -> None:
    client = browser(camps)
    url = reverse("v1:assistant-chat", args=[camps.conversation.slug])
    near = TEXTS[3].replace("every", "each")

    refused = client.post(url, {"intent": "submit", "text": near}, format="json")
    added = client.post(url, {"intent": "submit", "text": near, "confirmed": True}, format="json")

    assert refused.status_code == 409
    assert added.status_code == 200 and added.json()["intent"] == "submit"
    assert Statement.objects.get(text=near).author_participant is not None


def test_chat_explains_the_groups(camps: Camps) -> None:
    run_snapshot(camps)
    url = reverse("v1:assistant-chat", args=[camps.conversation.slug])

    answer = browser(camps).post(url, {"intent": "groups"}, format="json")

    assert answer.status_code == 200
    assert answer.json()["paragraphs"][0] == "There are 2 camps on this topic."


def test_bridging_list_is_for_moderators_only(camps: Camps) -> None:
    snapshot = run_snapshot(camps)
    BridgingSuggestion.objects.create(
        conversation=camps.conversation,
        snapshot=snapshot,
        text="Open the pools on Sundays.",
        original_text="Open the pools on Sundays.",
        source="llm",
        forecast={"0": 0.7, "1": 0.6},
        forecast_bridging=0.6,
    )
    url = reverse("v1:assistant-bridging", args=[camps.conversation.slug])
    client = APIClient()
    client.force_authenticate(UserFactory.create())
    assert client.get(url).status_code == 403

    moderator = UserFactory.create()
    camps.conversation.moderators.add(moderator)
    client.force_authenticate(moderator)
    (suggestion,) = client.get(url).json()

    assert suggestion["forecast"] == {"0": 0.7, "1": 0.6}
    assert suggestion["status"] == "proposed" and suggestion["forecast_error"] is None
