"""Group summaries per snapshot: written by the model and gated, or extractive.

The model sees each group's size and representative statements with the group's votes on
them, and the statements every group agrees with, all as delimited data. Its answer goes
through the gate (``gate.py``) and the check that each cited sentence is close in meaning to
what it cites (``unsupported_sentences``); a refused answer is retried once with the
reasons, then replaced by the extractive summary (the statements that define each group,
with their numbers), and the refusals stay in the ledger.
"""

from dataclasses import dataclass
from typing import Any

from deliberation.assistant import prompts
from deliberation.assistant.duplicates import DEFAULT_THRESHOLDS
from deliberation.assistant.embeddings import LOCAL, local_embedder
from deliberation.assistant.gate import (
    AGREES,
    DESCRIBES,
    DISAGREES,
    GroupFacts,
    SummaryFacts,
    gate_check,
)
from deliberation.assistant.ledger import ai_call_mark_gate_failed
from deliberation.assistant.provider import AssistantUnavailable, Provider
from deliberation.models import AICall, AIPurpose, Snapshot, SummarySource
from deliberation.selectors.groups import GroupsView, StatementRef, Tally, groups_view
from deliberation.templatetags.group_names import group_name

EXTRACTIVE_LIMITATION = (
    "AI summaries are unavailable: showing the statements that define each group."
)
GATE_LIMITATION = (
    "The AI summary did not pass the check against the votes: showing the statements that "
    "define each group instead."
)
_EXTRACTIVE_SENTENCES = 3
_OVERVIEW_CONSENSUS = 3
# A cited sentence less similar in meaning (local model) to every statement it cites than
# the duplicate check's "related" tier is about something else: its citations do not
# support it. This catches a sentence on another subject; a fluent sentence that turns its
# citation around on the same subject needs the model's verification, not a floor.
SUPPORT_FLOOR = DEFAULT_THRESHOLDS[LOCAL].related


@dataclass(frozen=True)
class SummaryResult:
    groups: list[dict[str, Any]]
    overview: dict[str, Any]
    limitations: list[str]
    call: AICall | None


def display_id(statement: StatementRef) -> str:
    return statement.external_id if statement.external_id is not None else str(statement.id)


def summary_facts(view: GroupsView) -> SummaryFacts:
    snapshot = view.snapshot
    return SummaryFacts(
        conversation_id=snapshot.conversation_id,
        groups=[
            GroupFacts(
                id=group.id,
                size=group.size,
                representative=[rep.statement.id for rep in group.representative],
            )
            for group in view.groups
        ],
        participant_counts=(
            _participants(view),
            *(count for count in (snapshot.n_participants, snapshot.n_in_conv) if count),
        ),
        tallies={
            stats.statement.id: {
                group_id: (tally.agree, tally.disagree, tally.total)
                for group_id, tally in stats.groups.items()
            }
            for stats in view.statements
        },
    )


def _participants(view: GroupsView) -> int:
    return view.snapshot.n_participants or sum(group.size for group in view.groups)


def share_percent(count: int, tally: Tally) -> int:
    """A count as a whole percentage of the tally: the figure every summary sentence shows."""
    return round(100 * count / tally.total) if tally.total else 0


def prompt_payload(view: GroupsView) -> dict[str, Any]:
    def votes(tally: Tally) -> dict[str, int]:
        return {
            "agree": tally.agree,
            "disagree": tally.disagree,
            "pass": tally.passes,
            "agree_percent": share_percent(tally.agree, tally),
            "disagree_percent": share_percent(tally.disagree, tally),
        }

    return {
        "participants": _participants(view),
        "groups": [
            {
                "id": group.id,
                "name": group_name(group.id),
                "size": group.size,
                "representative_statements": [
                    {
                        "id": display_id(rep.statement),
                        "text": rep.statement.text,
                        "group_leans": rep.direction,
                        "group_votes": votes(rep.tally),
                    }
                    for rep in group.representative
                ],
            }
            for group in view.groups
        ],
        "statements_every_group_agrees_with": [
            {"id": display_id(statement), "text": statement.text}
            for statement in shared_ground(view, summary_facts(view))
        ],
    }


def shared_ground(view: GroupsView, facts: SummaryFacts) -> list[StatementRef]:
    """The majority's consensus statements that every group agrees with (each group's
    p >= 0.5): a statement the majority likes but one group rejects is not shared ground."""
    return [
        item.statement
        for item in view.consensus
        if item.direction == "agree"
        and all(facts.p_agree(item.statement.id, group.id) >= 0.5 for group in view.groups)
    ]


def extractive_summary(view: GroupsView, facts: SummaryFacts) -> tuple[list[Any], dict[str, Any]]:
    """Each group's representative statements and the consensus, with their numbers.

    Built to pass the gate itself: a sentence claims agreement only where p >= 0.5.
    """
    groups = []
    for group in view.groups:
        sentences = []
        for rep in group.representative[:_EXTRACTIVE_SENTENCES]:
            statement, tally = rep.statement, rep.tally
            if rep.direction == "disagree" and facts.p_disagree(statement.id, group.id) >= 0.5:
                text = f"{share_percent(tally.disagree, tally)}% of {group_name(group.id)} disagree"
                stance = DISAGREES
            elif facts.p_agree(statement.id, group.id) >= 0.5:
                text = f"{share_percent(tally.agree, tally)}% of {group_name(group.id)} agree"
                stance = AGREES
            else:
                text = f"Only {share_percent(tally.agree, tally)}% of {group_name(group.id)} agree"
                stance = DESCRIBES
            sentences.append(
                {
                    "text": f"{text}: \u201c{statement.text}\u201d",
                    "stance": stance,
                    "citations": [display_id(statement)],
                }
            )
        if len(sentences) < 2 and group.representative:
            sentences.insert(
                0,
                {
                    "text": f"{group_name(group.id)} has {group.size} participants.",
                    "stance": DESCRIBES,
                    "citations": [display_id(group.representative[0].statement)],
                },
            )
        groups.append(
            {
                "id": group.id,
                "label": group_name(group.id),
                "source": SummarySource.EXTRACTIVE.value,
                "sentences": sentences,
            }
        )
    common = shared_ground(view, facts)[:_OVERVIEW_CONSENSUS]
    overview_sentences = [
        {
            "text": f"{len(view.groups)} opinion groups formed among "
            f"{_participants(view)} participants.",
            "stance": DESCRIBES,
            "citations": [],
        }
    ] + [
        {
            "text": f"Most people in every group agree: \u201c{statement.text}\u201d",
            "stance": AGREES,
            "citations": [display_id(statement)],
        }
        for statement in common
    ]
    overview = {"source": SummarySource.EXTRACTIVE.value, "sentences": overview_sentences}
    return groups, overview


def unsupported_sentences(*, summary: dict[str, Any], view: GroupsView) -> list[str]:
    """A problem for every cited sentence that none of its citations supports in meaning."""
    texts = {display_id(stats.statement): stats.statement.text for stats in view.statements}
    sentences = [
        sentence
        for part in [*summary.get("groups", []), summary.get("overview", {})]
        for sentence in part.get("sentences", [])
        if any(str(ref) in texts for ref in sentence.get("citations", []))
    ]
    if not sentences:
        return []
    cited = sorted(
        {str(ref) for sentence in sentences for ref in sentence["citations"]} & set(texts)
    )
    vectors = local_embedder().embed([sentence["text"] for sentence in sentences])
    cited_vectors = dict(
        zip(cited, local_embedder().embed([texts[ref] for ref in cited]), strict=True)
    )
    problems = []
    for sentence, vector in zip(sentences, vectors, strict=True):
        refs = [str(ref) for ref in sentence["citations"] if str(ref) in cited_vectors]
        best = max(float(vector @ cited_vectors[ref]) for ref in refs)
        if best < SUPPORT_FLOOR:
            problems.append(
                f"\u201c{sentence['text'][:120]}\u201d is not what its citations "
                f"({', '.join(refs)}) say (similarity {best:.2f}, floor {SUPPORT_FLOOR:.2f})."
            )
    return problems


def summarize(*, snapshot: Snapshot, provider: Provider) -> SummaryResult:
    """A gated model summary of the snapshot's groups, or the extractive one and why."""
    view = groups_view(snapshot=snapshot)
    facts = summary_facts(view)
    messages = prompts.summary_messages(prompt_payload(view))
    statement_ids = sorted({sid for group in facts.groups for sid in group.representative})
    limitations = [EXTRACTIVE_LIMITATION]
    last_call = None
    if view.groups:
        for _ in range(2):
            try:
                answer = provider.chat_json(
                    purpose=AIPurpose.SUMMARY,
                    prompt_version=prompts.SUMMARY_VERSION,
                    messages=messages,
                    schema_name="group_summaries",
                    schema=prompts.SUMMARY_SCHEMA,
                    conversation=snapshot.conversation,
                    statement_ids=statement_ids,
                )
            except AssistantUnavailable as unavailable:
                limitations = [EXTRACTIVE_LIMITATION, unavailable.limitation]
                break
            last_call = answer.call
            problems = gate_check(summary=answer.data, facts=facts) + unsupported_sentences(
                summary=answer.data, view=view
            )
            if not problems:
                by_id = {group["id"]: group for group in answer.data["groups"]}
                return SummaryResult(
                    groups=[
                        {**by_id[group.id], "source": SummarySource.LLM.value}
                        for group in view.groups
                    ],
                    overview={**answer.data["overview"], "source": SummarySource.LLM.value},
                    limitations=[],
                    call=answer.call,
                )
            ai_call_mark_gate_failed(call=answer.call, reasons=problems)
            limitations = [GATE_LIMITATION]
            messages = [
                *messages,
                {"role": "assistant", "content": answer.call.output},
                prompts.gate_feedback(problems),
            ]
    groups, overview = extractive_summary(view, facts)
    return SummaryResult(groups=groups, overview=overview, limitations=limitations, call=last_call)
