import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from deliberation.assistant.bridging import OFFLINE_BRIDGE_LIMITATION, draft_bridges
from deliberation.assistant.provider import get_provider
from deliberation.assistant.summaries import summary_facts
from deliberation.errors import Conflict, NotFound, PermissionDenied
from deliberation.models import (
    AICall,
    AuditLogEntry,
    BridgingSuggestion,
    Participant,
    Snapshot,
    Statement,
)
from deliberation.selectors.groups import groups_view
from deliberation.services.assistant import (
    assistant_snapshot_follow_up,
    bridging_suggestion_decide,
    bridging_suggestions_draft,
)
from tests.assistant.data import (
    BIKE_LANES,
    LIBRARY_TOO,
    TEXTS,
    UNRELATED_DRAFT,
    answer_stances_same,
    run_snapshot,
)
from tests.factories import StatementFactory, UserFactory
from tests.fake_openai import Failure, FakeOpenAI
from tests.snapshot_data import Camps, votes_write

pytestmark = pytest.mark.django_db


def moderator_of(camps: Camps) -> User:
    user = UserFactory.create()
    camps.conversation.moderators.add(user)
    return user


@pytest.mark.usefixtures("offline")
def test_offline_ranks_existing_statements_by_their_real_bridging(camps: Camps) -> None:
    snapshot = run_snapshot(camps)

    draft = draft_bridges(snapshot=snapshot, provider=get_provider())

    assert draft.source == "offline"
    assert draft.limitations[0] == OFFLINE_BRIDGE_LIMITATION
    # Only the statement every group agrees with bridges: the others split the camps.
    (best,) = draft.candidates
    assert best.existing_id == camps.statements[-1].pk
    assert set(best.forecast.groups) == {0, 1}
    assert best.forecast.bridging is not None and best.forecast.bridging > 0.8
    assert best.forecast.lower_bound is not None
    assert best.forecast.lower_bound < best.forecast.bridging


@pytest.mark.usefixtures("offline")
def test_offline_never_offers_rejected_meta_or_barely_voted_statements(camps: Camps) -> None:
    everyone = list(Participant.objects.filter(conversation=camps.conversation))
    spam = [
        StatementFactory.create(
            conversation=camps.conversation, text=text, status=status, is_meta=meta
        )
        for text, status, meta in [
            ("Hello.", "rejected", False),
            ("First piece of spam on polis! Buy products now!", "rejected", False),
            ("Is this thing on?", "accepted", True),
            ("Awesome!", "accepted", False),
        ]
    ]
    # Everyone agrees with the rejected and the meta ones; one person with "Awesome!".
    votes_write([(p, s, 1) for p in everyone for s in spam[:3]] + [(everyone[0], spam[3], 1)])
    snapshot = run_snapshot(camps)

    draft = draft_bridges(snapshot=snapshot, provider=get_provider())

    assert [candidate.existing_id for candidate in draft.candidates] == [camps.statements[-1].pk]


def test_model_drafts_get_per_group_forecasts_from_similar_statements(
    fake_openai: FakeOpenAI, camps: Camps
) -> None:
    snapshot = run_snapshot(camps)
    fake_openai.chat_default = answer_stances_same
    fake_openai.queue_chat(
        {
            "candidates": [
                {"text": BIKE_LANES, "rationale": "Extends a popular idea.", "based_on": ["999"]},
                {
                    "text": LIBRARY_TOO,
                    "rationale": "Builds on the shared ground.",
                    "based_on": [str(camps.statements[-1].pk)],
                },
                {"text": UNRELATED_DRAFT, "rationale": "Nothing like it.", "based_on": []},
                {"text": TEXTS[3], "rationale": "Repeats one.", "based_on": []},
                {"text": TEXTS[5] + "!", "rationale": "A near-copy.", "based_on": []},
                {"text": "x" * 2000, "rationale": "Too long to be a statement.", "based_on": []},
            ]
        }
    )

    draft = draft_bridges(snapshot=snapshot, provider=get_provider())

    assert draft.source == "llm" and draft.dropped_duplicates == 2
    library, bikes, unrelated = draft.candidates
    # No voted statement is like it: "no forecast", ranked last, never a made-up 0.5.
    assert unrelated.text == UNRELATED_DRAFT
    assert unrelated.forecast.groups == {} and unrelated.forecast.bridging is None
    assert library.text == LIBRARY_TOO and library.based_on == [camps.statements[-1].pk]
    # One related neighbour everyone agrees with pulls both groups above their mean.
    assert library.forecast.bridging is not None and library.forecast.bridging > 0.55
    assert bikes.based_on == []
    # Camp A agrees with the bike lanes, camp B does not: the forecast moves each group that
    # way from its mean agreement (one weakly related neighbour is little evidence).
    facts = summary_facts(groups_view(snapshot=snapshot))
    a = int(snapshot.positions_array()["group"][0])

    def mean(group: int) -> float:
        return sum(facts.p_agree(s.pk, group) for s in camps.statements) / len(camps.statements)

    assert bikes.forecast.groups[a] > mean(a)
    assert bikes.forecast.groups[1 - a] < mean(1 - a)
    assert bikes.forecast.bridging == min(bikes.forecast.groups.values())
    assert camps.statements[1].pk == bikes.forecast.neighbours[0]


def test_bridge_command_prints_candidates_and_stores_them_for_review(
    fake_openai: FakeOpenAI, camps: Camps
) -> None:
    run_snapshot(camps)
    fake_openai.chat_default = answer_stances_same
    fake_openai.queue_chat(
        {"candidates": [{"text": LIBRARY_TOO, "rationale": "Shared ground.", "based_on": []}]}
    )
    out = StringIO()

    call_command("assistant", "bridge", camps.conversation.slug, stdout=out)

    document = json.loads(out.getvalue())
    (candidate,) = document["candidates"]
    assert document["source"] == "llm"
    assert set(candidate["forecast"]) == {"0", "1"}
    assert candidate["forecast_bridging"] < min(candidate["forecast"].values())
    stored = BridgingSuggestion.objects.get()
    assert candidate["suggestion"] == stored.pk and stored.status == "proposed"
    assert stored.ai_call is not None and stored.ai_call.purpose == "bridge"


def test_a_failing_model_falls_back_to_ranking_and_stores_nothing(
    fake_openai: FakeOpenAI, camps: Camps
) -> None:
    run_snapshot(camps)
    fake_openai.queue_chat(Failure(500), Failure(500), Failure(500))
    moderator = moderator_of(camps)

    draft, stored = bridging_suggestions_draft(actor=moderator, conversation=camps.conversation)

    assert draft.source == "offline" and stored == []
    assert draft.candidates[0].existing_id == camps.statements[-1].pk
    assert list(AICall.objects.values_list("outcome", flat=True)) == ["error"] * 3


def proposed(camps: Camps, snapshot: Snapshot, text: str = LIBRARY_TOO) -> BridgingSuggestion:
    call = AICall.objects.create(
        conversation=camps.conversation, purpose="bridge", provider="openai", outcome="ok"
    )
    return BridgingSuggestion.objects.create(
        conversation=camps.conversation,
        snapshot=snapshot,
        text=text,
        original_text=text,
        source="llm",
        forecast={"0": 0.9, "1": 0.8},
        forecast_bridging=0.8,
        ai_call=call,
    )


def call_id(suggestion: BridgingSuggestion) -> int:
    assert suggestion.ai_call_id is not None
    return suggestion.ai_call_id


@pytest.mark.usefixtures("offline")
def test_an_approved_edit_enters_the_queue_as_ai_suggested_and_is_audited(camps: Camps) -> None:
    suggestion = proposed(camps, run_snapshot(camps))
    moderator = moderator_of(camps)

    decided = bridging_suggestion_decide(
        actor=moderator,
        conversation=camps.conversation,
        suggestion_id=suggestion.pk,
        decision="approve",
        text="  Keep the library, the museum and the pool open on Sundays. ",
    )

    assert decided.statement is not None
    statement = Statement.objects.get(pk=decided.statement.pk)
    assert statement.is_ai_suggested and statement.status == "accepted"
    assert statement.text == "Keep the library, the museum and the pool open on Sundays."
    assert decided.original_text == LIBRARY_TOO
    call = AICall.objects.get(pk=call_id(suggestion))
    assert call.decision == "edited" and call.decided_by == moderator
    entry = AuditLogEntry.objects.get(target_type="statement", target_id=statement.pk)
    assert entry.before is not None and entry.before["bridging_suggestion"] == suggestion.pk
    with pytest.raises(Conflict, match="already approved"):
        bridging_suggestion_decide(
            actor=moderator,
            conversation=camps.conversation,
            suggestion_id=suggestion.pk,
            decision="reject",
        )
    assert Statement.objects.filter(is_ai_suggested=True).count() == 1


@pytest.mark.usefixtures("offline")
def test_rejection_is_ledgered_and_audited_and_creates_no_statement(camps: Camps) -> None:
    suggestion = proposed(camps, run_snapshot(camps))
    before = Statement.objects.count()

    bridging_suggestion_decide(
        actor=moderator_of(camps),
        conversation=camps.conversation,
        suggestion_id=suggestion.pk,
        decision="reject",
    )

    suggestion.refresh_from_db()
    assert suggestion.status == "rejected" and Statement.objects.count() == before
    assert AICall.objects.get(pk=call_id(suggestion)).decision == "rejected"
    assert AuditLogEntry.objects.filter(target_type="bridging_suggestion").count() == 1


@pytest.mark.usefixtures("offline")
def test_only_moderators_decide(camps: Camps) -> None:
    suggestion = proposed(camps, run_snapshot(camps))

    with pytest.raises(PermissionDenied):
        bridging_suggestion_decide(
            actor=UserFactory.create(),
            conversation=camps.conversation,
            suggestion_id=suggestion.pk,
            decision="approve",
        )
    suggestion.refresh_from_db()
    assert suggestion.status == "proposed"


@pytest.mark.usefixtures("offline")
def test_a_later_snapshot_stores_real_agreement_beside_the_forecast(camps: Camps) -> None:
    suggestion = proposed(camps, run_snapshot(camps))
    decided = bridging_suggestion_decide(
        actor=moderator_of(camps),
        conversation=camps.conversation,
        suggestion_id=suggestion.pk,
        decision="approve",
    )
    assert decided.statement is not None
    everyone = Participant.objects.filter(conversation=camps.conversation)
    votes_write([(participant, decided.statement, 1) for participant in everyone])

    later = run_snapshot(camps)
    assistant_snapshot_follow_up(snapshot_id=later.pk)

    suggestion.refresh_from_db()
    assert suggestion.realised_votes == 24
    # 12 of 12 agree in each group: p = 13/14.
    assert suggestion.realised["0"]["real"] == pytest.approx(13 / 14)
    assert suggestion.realised["0"]["forecast"] == 0.9
    expected = (abs(13 / 14 - 0.9) + abs(13 / 14 - 0.8)) / 2
    assert suggestion.forecast_error == pytest.approx(expected)
    assert later.ai_summary is not None


@pytest.mark.usefixtures("offline")
def test_drafting_bridges_before_any_groups_says_there_is_nothing_to_bridge(
    camps: Camps,
) -> None:
    with pytest.raises(NotFound, match="no opinion groups yet: nothing to bridge"):
        bridging_suggestions_draft(actor=moderator_of(camps), conversation=camps.conversation)

    assert not BridgingSuggestion.objects.exists()
    assert not AICall.objects.exists()
