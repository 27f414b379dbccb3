from typing import Any

import pytest

from deliberation.assistant.gate import gate_check
from deliberation.assistant.summaries import extractive_summary, summary_facts
from deliberation.models import Snapshot, StatementStatus
from deliberation.selectors.groups import GroupsView, groups_view
from tests.factories import StatementFactory

pytestmark = pytest.mark.django_db


def sentence(text: str, stance: str, *citations: object) -> dict[str, Any]:
    return {"text": text, "stance": stance, "citations": [str(c) for c in citations]}


def honest(view: GroupsView) -> dict[str, Any]:
    """A summary that says only true things: each group agrees with its agree-reps."""
    groups = []
    for group in view.groups:
        agree = group.agrees[0].statement.id
        disagree = group.disagrees[0].statement.id if group.disagrees else agree
        groups.append(
            {
                "id": group.id,
                "label": "A camp",
                "sentences": [
                    # Quoting the cited statement: its own numbers are not claims.
                    sentence(f"They support: {group.agrees[0].statement.text}", "agrees", agree),
                    sentence(
                        f"All {group.size} of them vote alike.",
                        "disagrees" if group.disagrees else "agrees",
                        disagree,
                    ),
                ],
            }
        )
    return {"groups": groups, "overview": {"sentences": []}}


def test_an_honest_summary_passes(camps_snapshot: Snapshot) -> None:
    view = groups_view(snapshot=camps_snapshot)

    assert gate_check(summary=honest(view), facts=summary_facts(view)) == []


def test_the_extractive_summary_passes_its_own_gate(camps_snapshot: Snapshot) -> None:
    view = groups_view(snapshot=camps_snapshot)
    facts = summary_facts(view)
    groups, overview = extractive_summary(view, facts)

    assert gate_check(summary={"groups": groups, "overview": overview}, facts=facts) == []
    assert overview["sentences"][1]["stance"] == "agrees"  # the statement all agree on


def test_unknown_rejected_and_foreign_citations_are_refused(camps_snapshot: Snapshot) -> None:
    view = groups_view(snapshot=camps_snapshot)
    rejected = StatementFactory.create(
        conversation=camps_snapshot.conversation, status=StatementStatus.REJECTED
    )
    foreign = StatementFactory.create()
    summary = honest(view)
    summary["overview"]["sentences"] = [
        sentence("People mention these.", "describes", "99999", rejected.pk, foreign.pk)
    ]

    problems = gate_check(summary=summary, facts=summary_facts(view))

    assert any("'99999', which is not in this conversation" in p for p in problems)
    assert any(f"'{rejected.pk}', which is not accepted" in p for p in problems)
    assert any(f"'{foreign.pk}', which is not in this conversation" in p for p in problems)


def test_a_sentence_with_the_wrong_direction_is_refused(camps_snapshot: Snapshot) -> None:
    view = groups_view(snapshot=camps_snapshot)
    summary = honest(view)
    group = view.groups[0]
    against = group.disagrees[0].statement.id
    summary["groups"][0]["sentences"][0] = sentence("They back it.", "agrees", against)

    problems = gate_check(summary=summary, facts=summary_facts(view))

    assert problems == [
        f"group {group.id}, sentence 1, says group {group.id} agrees with statement "
        f"{against}, but it does not (p < 0.5)"
    ]


def test_an_invented_number_is_refused_and_a_true_one_passes(camps_snapshot: Snapshot) -> None:
    view = groups_view(snapshot=camps_snapshot)
    facts = summary_facts(view)
    summary = honest(view)
    group = view.groups[0]
    cited = group.agrees[0].statement.id
    summary["groups"][0]["sentences"][0] = sentence(
        f"100% of the {group.size} members agree.", "agrees", cited
    )
    assert gate_check(summary=summary, facts=facts) == []

    summary["groups"][0]["sentences"][0] = sentence("73% of them agree.", "agrees", cited)

    assert gate_check(summary=summary, facts=facts) == [
        f"group {group.id}, sentence 1, states the number 73, which the votes do not show"
    ]


def test_every_group_must_be_summarized_from_its_own_statements(
    camps_snapshot: Snapshot,
) -> None:
    view = groups_view(snapshot=camps_snapshot)
    summary = honest(view)
    dropped = summary["groups"].pop()
    first = view.groups[0]
    own = {rep.statement.id for rep in first.representative}
    borrowed = next(s.statement.id for s in view.statements if s.statement.id not in own)
    summary["groups"][0]["sentences"] = [
        sentence("They are a group.", "describes", borrowed),
        sentence("They vote.", "describes", borrowed),
    ]

    problems = gate_check(summary=summary, facts=summary_facts(view))

    assert f"group {dropped['id']} ({view.groups[1].size} people) is not summarized" in problems
    assert f"group {first.id} is not summarized from its own representative statements" in problems


def test_the_overview_claims_agreement_only_where_every_group_agrees(
    camps_snapshot: Snapshot,
) -> None:
    view = groups_view(snapshot=camps_snapshot)
    summary = honest(view)
    divisive = view.groups[0].agrees[0].statement.id
    summary["overview"]["sentences"] = [sentence("Everyone agrees.", "agrees", divisive)]

    problems = gate_check(summary=summary, facts=summary_facts(view))

    assert len(problems) == 1 and "overview, sentence 1, says group" in problems[0]
