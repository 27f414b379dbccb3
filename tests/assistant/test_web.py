"""The assistant's web views: draft hints, the chat panel, the moderators' pages."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from deliberation.assistant import chat as chat_module
from deliberation.assistant.chat import NOTHING_CLOSE, SEARCH_INTRO
from deliberation.models import (
    AICall,
    BridgingSuggestion,
    DuplicateFlag,
    Participant,
    Snapshot,
    Statement,
    StatementStatus,
)
from deliberation.selectors.groups import GroupsView, groups_view
from tests.assistant.data import LIBRARY_TOO, answer_stances_same, run_snapshot
from tests.factories import StatementFactory, UserFactory
from tests.fake_openai import Failure, FakeOpenAI, Stall
from tests.snapshot_data import Camps

pytestmark = pytest.mark.django_db


def member(camps: Camps, client: Client, index: int = 0) -> Participant:
    """Log in as a participant of camp A, so the request finds them."""
    participant = camps.camp_a[index]
    participant.user = UserFactory.create()
    participant.save()
    client.force_login(participant.user)
    return participant


def chat(client: Client, camps: Camps, **data: str) -> HttpResponse:
    url = reverse("assistant:chat", args=[camps.conversation.slug])
    return client.post(url, data, HTTP_HX_REQUEST="true")  # type: ignore[return-value]


@pytest.mark.usefixtures("offline")
def test_conversation_page_has_the_panel_and_the_draft_hints(client: Client, camps: Camps) -> None:
    page = client.get(reverse("web:conversation", args=[camps.conversation.slug]))

    html = page.content.decode()
    assert 'id="assistant"' in html and "Explain the groups" in html
    assert 'hx-trigger="keyup changed delay:600ms from:#new-statement"' in html


@pytest.mark.usefixtures("offline")
def test_typing_a_near_duplicate_offers_the_existing_statement(
    client: Client, camps: Camps
) -> None:
    url = reverse("assistant:draft_check", args=[camps.conversation.slug])

    near = client.post(
        url, {"text": "Plant more trees along every single street."}, HTTP_HX_REQUEST="true"
    )
    unrelated = client.post(
        url, {"text": "Quantum chromodynamics is hard."}, HTTP_HX_REQUEST="true"
    )

    assert "<html" not in near.content.decode()  # the hints alone, swapped in by htmx
    assert "a very similar statement already exists: vote on it instead?" in (
        near.content.decode().lower()
    )
    assert f"?statement={camps.statements[3].pk}#card" in near.content.decode()
    assert "already exists" not in unrelated.content.decode()
    assert "yours looks new" in unrelated.content.decode()


@pytest.mark.usefixtures("offline")
def test_without_javascript_the_draft_check_returns_the_page_with_the_draft_and_hints(
    client: Client, camps: Camps
) -> None:
    draft = "Plant more trees along every single street."
    page = client.post(
        reverse("assistant:draft_check", args=[camps.conversation.slug]), {"text": draft}
    )

    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html and camps.conversation.topic in html
    assert f">{draft}</textarea>" in html
    hints = html[html.index('id="draft-hints"') :]
    assert "vote on it instead?" in hints
    assert (
        'formaction="{}"'.format(reverse("assistant:draft_check", args=[camps.conversation.slug]))
        in hints
    )


@pytest.mark.usefixtures("offline")
def test_without_javascript_the_chat_answers_in_the_panel_of_the_whole_page(
    client: Client, camps: Camps
) -> None:
    run_snapshot(camps)
    member(camps, client)
    url = reverse("assistant:chat", args=[camps.conversation.slug])

    page = client.post(url, {"intent": "groups"})
    fragment = client.post(url, {"intent": "groups"}, HTTP_HX_REQUEST="true")

    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html and 'id="card"' in html
    log = html[html.index('id="assistant-log"') : html.index('id="assistant-form"')]
    assert "There are 2 camps on this topic." in log and "You are in Group " in log
    assert "<html" not in fragment.content.decode()
    assert "There are 2 camps on this topic." in fragment.content.decode()


@pytest.mark.usefixtures("offline")
def test_without_javascript_a_confirmed_submit_adds_the_statement_and_says_so(
    client: Client, camps: Camps
) -> None:
    member(camps, client)
    near = "Plant more trees along every single street."
    url = reverse("assistant:chat", args=[camps.conversation.slug])

    refused = client.post(url, {"intent": "submit", "text": near}).content.decode()
    added = client.post(url, {"intent": "submit", "text": near, "confirmed": "1"})

    log = refused[refused.index('id="assistant-log"') : refused.index('id="assistant-form"')]
    assert "A very similar statement already exists" in log
    assert 'name="confirmed" value="1"' in log
    assert "once a moderator has reviewed it" in added.content.decode()
    assert Statement.objects.filter(text=near).count() == 1


@pytest.mark.usefixtures("offline")
def test_the_groups_are_explained_with_sizes_and_my_group(client: Client, camps: Camps) -> None:
    run_snapshot(camps)
    member(camps, client)

    html = chat(client, camps, intent="groups").content.decode()

    assert "There are 2 camps on this topic." in html
    assert "(12 people)" in html
    assert "You are in Group " in html


@pytest.mark.usefixtures("offline")
def test_my_statement_outcome_comes_from_the_snapshot(client: Client, camps: Camps) -> None:
    participant = member(camps, client)
    Statement.objects.filter(pk=camps.statements[-1].pk).update(author_participant=participant)
    run_snapshot(camps)

    html = chat(client, camps, intent="mine").content.decode()

    # Everyone agrees with the last statement: 12 of 12 in both groups.
    assert "reached at least 100% agreement across all 2 groups" in html


@pytest.mark.usefixtures("offline")
def test_a_draft_is_checked_then_submitted_only_on_confirmation(
    client: Client, camps: Camps
) -> None:
    member(camps, client)
    near = "Plant more trees along every single street."

    checked = chat(client, camps, intent="draft", text=near).content.decode()
    assert "vote on it instead?" in checked and Statement.objects.filter(text=near).count() == 0

    refused = chat(client, camps, intent="submit", text=near).content.decode()
    assert "A very similar statement already exists" in refused
    assert not Statement.objects.filter(text=near).exists()

    chat(client, camps, intent="submit", text=near, confirmed="1")
    added = Statement.objects.get(text=near)
    flag = DuplicateFlag.objects.get(statement=added, tier="duplicate")
    assert flag.similar_to_id == camps.statements[3].pk and flag.tier == "duplicate"


def test_a_failing_model_never_shows_an_error_page(
    client: Client, camps: Camps, fake_openai: FakeOpenAI, settings: Any
) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "TIMEOUT_S": 0.2}
    run_snapshot(camps)
    member(camps, client)
    fake_openai.queue_chat(Failure(500), Stall(1.0), Failure(429, retry_after=0))
    # Three failed tries for the question's search, three for the draft's check.
    fake_openai.queue_embeddings(*[Failure(500)] * 6)

    asked = chat(client, camps, intent="ask", text="What do the groups disagree about?")
    drafted = chat(client, camps, intent="draft", text="Plant more trees on every street.")
    bridged = chat(client, camps, intent="bridges")

    assert asked.status_code == drafted.status_code == bridged.status_code == 200
    assert SEARCH_INTRO in asked.content.decode() or NOTHING_CLOSE in asked.content.decode()
    assert "vote on it instead?" in drafted.content.decode()
    assert "already find agreement in every group" in bridged.content.decode()
    assert {"error", "timeout", "rate_limited"} <= set(
        AICall.objects.values_list("outcome", flat=True)
    )


def test_the_model_sees_no_other_participant_and_its_reply_is_escaped(
    client: Client, camps: Camps, fake_openai: FakeOpenAI
) -> None:
    run_snapshot(camps)
    me = member(camps, client)
    others = Participant.objects.exclude(pk=me.pk)
    fake_openai.queue_chat({"reply": "<script>alert(1)</script> I cannot say how anyone voted."})

    html = chat(client, camps, intent="ask", text="How did the others vote?").content.decode()

    prompt = json.dumps(fake_openai.chat_requests()[-1]["messages"])
    for other in others:
        assert other.session_key not in prompt
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; I cannot say how anyone voted." in html
    system = fake_openai.chat_requests()[-1]["messages"][0]["content"]
    assert "never argue for or against a position" in system


def test_a_free_question_does_not_show_the_model_groups_hidden_from_the_asker(
    client: Client, camps: Camps, fake_openai: FakeOpenAI
) -> None:
    run_snapshot(camps)
    camps.conversation.show_groups = False
    camps.conversation.save()
    member(camps, client)
    fake_openai.queue_chat({"reply": "The groups are not shared in this conversation."})

    chat(client, camps, intent="ask", text="What does each group think?")

    prompt = json.dumps(fake_openai.chat_requests()[-1]["messages"], ensure_ascii=False)
    assert "camps on this topic" not in prompt
    assert "You are in" not in prompt


def test_a_free_question_loads_the_groups_once_for_both_parts_of_its_context(
    client: Client, camps: Camps, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_snapshot(camps)
    me = member(camps, client)
    mine = Statement.objects.get(pk=camps.statements[-1].pk)
    mine.author_participant = me
    mine.save()
    loads: list[int] = []

    def counted(*, snapshot: Snapshot) -> GroupsView:
        loads.append(snapshot.pk)
        return groups_view(snapshot=snapshot)

    monkeypatch.setattr(chat_module, "groups_view", counted)
    fake_openai.queue_chat({"reply": "Your statement found agreement in both groups."})

    chat(client, camps, intent="ask", text="How did my statement do?")

    prompt = json.dumps(fake_openai.chat_requests()[-1]["messages"], ensure_ascii=False)
    assert "camps on this topic" in prompt
    assert mine.text in prompt
    assert len(loads) == 1


def moderator(camps: Camps, client: Client) -> User:
    user = UserFactory.create()
    camps.conversation.moderators.add(user)
    client.force_login(user)
    return user


@pytest.mark.usefixtures("offline")
def test_moderators_see_the_ledger_and_others_get_404(client: Client, camps: Camps) -> None:
    run_snapshot(camps)
    chat(client, camps, intent="ask", text="Who is right?")
    url = reverse("assistant:ledger", args=[camps.conversation.slug])
    client.force_login(UserFactory.create())
    assert client.get(url).status_code == 404

    moderator(camps, client)
    page = client.get(url)

    assert page.status_code == 200
    assert "Participant chat" in page.content.decode()


def test_the_ledger_shows_each_calls_prompt_collapsed(
    client: Client, camps: Camps, fake_openai: FakeOpenAI
) -> None:
    run_snapshot(camps)
    moderator(camps, client)
    fake_openai.queue_chat({"reply": "Group A wants more bike lanes."})
    chat(client, camps, intent="ask", text="What does group A want & why?")

    page = client.get(reverse("assistant:ledger", args=[camps.conversation.slug]))

    html = page.content.decode()
    prompt = html[html.index("<summary>prompt</summary>") :]
    assert prompt.index("What does group A want &amp; why?") < prompt.index("</details>")


def test_moderators_review_and_approve_an_edited_suggestion(
    client: Client, camps: Camps, fake_openai: FakeOpenAI
) -> None:
    run_snapshot(camps)
    moderator(camps, client)
    fake_openai.chat_default = answer_stances_same
    fake_openai.queue_chat({"candidates": [{"text": LIBRARY_TOO, "rationale": "", "based_on": []}]})
    slug = camps.conversation.slug

    drafted = client.post(reverse("assistant:bridging_draft", args=[slug]))
    suggestion = BridgingSuggestion.objects.get()
    review = client.get(reverse("assistant:bridging", args=[slug])).content.decode()
    client.post(
        reverse("assistant:bridging_decide", args=[slug, suggestion.pk]),
        {"decision": "approve", "text": "Open the public pools on Sundays."},
    )

    assert "1 new suggestion to review" in drafted.content.decode()
    assert LIBRARY_TOO in review
    assert "Forecast: Group A " in review and ", Group B " in review and "#0" not in review
    statement = Statement.objects.get(text="Open the public pools on Sundays.")
    assert statement.is_ai_suggested
    card = client.get(
        reverse("web:conversation", args=[slug]), {"statement": statement.pk}
    ).content.decode()
    assert "AI-suggested" in card


@pytest.mark.usefixtures("offline")
def test_a_newcomers_refused_submit_leaves_no_participant(client: Client, camps: Camps) -> None:
    url = reverse("assistant:chat", args=[camps.conversation.slug])
    before = Participant.objects.count()

    refused = client.post(url, {"intent": "submit", "text": camps.statements[0].text})

    assert refused.status_code == 200
    assert "already in the conversation" in refused.content.decode()
    assert Participant.objects.count() == before


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("intent", ["groups", "mine", "bridges"])
def test_groups_hidden_by_the_moderators_are_said_to_be_hidden_not_missing(
    client: Client, camps: Camps, intent: str
) -> None:
    run_snapshot(camps)
    camps.conversation.show_groups = False
    camps.conversation.save()
    member(camps, client)

    html = chat(client, camps, intent=intent).content.decode()

    assert "have not shared its opinion groups" in html
    assert "camps on this topic" not in html


@pytest.mark.usefixtures("offline")
def test_offline_a_free_question_is_answered_from_the_statements_with_citations(
    client: Client, camps: Camps
) -> None:
    snapshot = run_snapshot(camps)
    pending = StatementFactory.create(
        conversation=camps.conversation, text="Open the library on Sundays for everyone."
    )
    Statement.objects.filter(pk=pending.pk).update(status=StatementStatus.PENDING)
    member(camps, client)

    asked = chat(client, camps, intent="ask", text="What do people say about the library?")

    html = asked.content.decode()
    library = camps.statements[-1]
    assert SEARCH_INTRO in html
    assert f"(#{library.pk}): " in html and "% agree" in html
    # Only accepted statements are quoted, and no disclaimer follows the answer.
    assert pending.text not in html
    assert "need the AI model" not in html
    assert snapshot.k == 2
