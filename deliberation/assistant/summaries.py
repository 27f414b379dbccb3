"""Group summaries per snapshot: written by the model, gated and verified, or extractive.

The model sees each group's size and representative statements with the group's votes on
them, and the statements every group agrees with, all as delimited data. Its answer goes
through the gate (``gate.py``) and the check that each cited sentence is close in meaning to
what it cites (``unsupported_sentences``), then through a second, cheap call that reads each
cited sentence beside the statements it cites (``verify_summary``): a sentence they do not
support, or that gives its group a stance the votes do not show, is dropped. A refused
answer, or one that loses too much, is retried once with the reasons, then replaced by the
extractive summary (the statements that define each group, with their numbers); so is an
answer the verification call could not check. Every refusal stays in the ledger.
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
from deliberation.assistant.ledger import ai_call_mark_gate_failed, ai_call_note
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
VERIFY_LIMITATION = (
    "The AI summary said things the statements it cites do not say: showing the statements "
    "that define each group instead."
)
VERIFY_FAILED_LIMITATION = (
    "The AI summary could not be checked against the statements it cites: showing the "
    "statements that define each group instead."
)


def dropped_limitation(count: int) -> str:
    sentences = "sentence" if count == 1 else "sentences"
    return (
        f"{count} {sentences} of the AI summary that the cited statements did not support "
        f"{'was' if count == 1 else 'were'} removed."
    )


_EXTRACTIVE_SENTENCES = 3
_OVERVIEW_CONSENSUS = 3
# A cited sentence less similar in meaning (local model) to every statement it cites than
# this is about something else: its citations do not support it. Measured on a labelled set
# (benchmarks/summary_check.py): off-subject sentences reach at most 0.31, faithful ones no
# less than 0.46; 0.35 (the duplicate check's "related" tier) was chosen on one half and
# refused no faithful sentence and passed no off-subject one on the other. A fluent sentence
# that turns its citation around on the same subject scores as high as a faithful one (0.46
# to 0.83): no floor can catch it, and the local stance rules caught 6 of 22 at the cost of
# one faithful sentence in 22, so they are not used; the model's verification catches it.
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


# A verified summary is published without the sentences the verification refused only if
# what remains is still a summary: every group keeps a sentence from its own representative
# statements, and the refused are at most this share of the checked sentences (a model that
# got more wrong than that is not trusted with the rest, which the check may have missed).
MAX_DROPPED_SHARE = 1 / 3
_VERDICT_STANCES = {"agree": AGREES, "disagree": DISAGREES}


@dataclass(frozen=True)
class _Checked:
    """One cited sentence sent for verification, and where it sits in the summary."""

    where: str
    subject: str
    group_ids: list[int]
    sentence: dict[str, Any]


@dataclass(frozen=True)
class Verification:
    summary: dict[str, Any]
    """The answer without the refused sentences (an emptied overview is the extractive one)."""
    dropped: list[str]
    """Why each refused sentence was refused."""
    refusal: list[str]
    """Why the answer may not be published (each refused sentence, and why what is left is
    too little); empty when it may be."""
    call: AICall


def _checked_sentences(summary: dict[str, Any], view: GroupsView) -> list[_Checked]:
    known = {display_id(stats.statement) for stats in view.statements}
    parts = [
        (f"group {group.get('id')}", group_name(group["id"]), [group["id"]], group)
        for group in summary.get("groups", [])
    ]
    parts.append(("overview", "every group", [g.id for g in view.groups], summary["overview"]))
    return [
        _Checked(f"{where}, sentence {i},", subject, group_ids, sentence)
        for where, subject, group_ids, part in parts
        for i, sentence in enumerate(part.get("sentences", []), start=1)
        if any(str(ref) in known for ref in sentence.get("citations", []))
    ]


def _refused(
    checked: _Checked, verdict: dict[str, Any] | None, view: GroupsView, facts: SummaryFacts
) -> str | None:
    """Why the verification refuses this sentence, or None if it stands."""
    quoted = f"\u201c{checked.sentence['text'][:120]}\u201d"
    cites = ", ".join(str(ref) for ref in checked.sentence["citations"])
    if verdict is None:
        return f"{checked.where} {quoted} was not checked by the verification"
    if not verdict["supported"]:
        return f"{checked.where} {quoted} is not supported by the statements it cites ({cites})"
    pks = {display_id(stats.statement): stats.statement.id for stats in view.statements}
    cited_here = {str(ref) for ref in checked.sentence["citations"]}
    tag = checked.sentence.get("stance")
    for cited in verdict["citations"]:
        ref, stance = str(cited["id"]), _VERDICT_STANCES.get(cited["stance"])
        if stance is None or ref not in cited_here or ref not in pks:
            continue
        p = facts.p_agree if stance == AGREES else facts.p_disagree
        # The stance the sentence's words give its group must be the one it is tagged with
        # (the gate checked the tag) and the one the votes show, for every group it is about.
        if (tag in (AGREES, DISAGREES) and tag != stance) or any(
            p(pks[ref], group_id) < 0.5 for group_id in checked.group_ids
        ):
            return (
                f"{checked.where} {quoted} says {checked.subject} {stance[:-1]}s with "
                f"statement {ref}: not supported by its stance tag ({tag}) or the votes"
            )
    return None


def verify_summary(
    *, summary: dict[str, Any], view: GroupsView, facts: SummaryFacts, provider: Provider
) -> Verification:
    """One model call reads every cited sentence beside the statements it cites; the
    sentences it does not find supported, or with a stance its tag or the votes contradict,
    are dropped. ``AssistantUnavailable`` if the call fails: nothing unchecked is kept."""
    texts = {display_id(stats.statement): stats.statement.text for stats in view.statements}
    pks = {display_id(stats.statement): stats.statement.id for stats in view.statements}
    checked = _checked_sentences(summary, view)
    items = [
        {
            "sentence": number,
            "about": item.subject,
            "text": item.sentence["text"],
            "cited": [
                {"id": str(ref), "text": texts[str(ref)]}
                for ref in item.sentence["citations"]
                if str(ref) in texts
            ],
        }
        for number, item in enumerate(checked, start=1)
    ]
    answer = provider.chat_json(
        purpose=AIPurpose.VERIFY,
        prompt_version=prompts.VERIFY_VERSION,
        messages=prompts.verify_messages(items),
        schema_name="summary_verification",
        schema=prompts.VERIFY_SCHEMA,
        conversation=view.snapshot.conversation,
        statement_ids=sorted({pks[item["id"]] for entry in items for item in entry["cited"]}),
    )
    verdicts = {verdict["sentence"]: verdict for verdict in answer.data["sentences"]}
    dropped: list[str] = []
    refused_ids: set[int] = set()
    for number, item in enumerate(checked, start=1):
        reason = _refused(item, verdicts.get(number), view, facts)
        if reason is not None:
            dropped.append(reason)
            refused_ids.add(id(item.sentence))
    if dropped:
        ai_call_note(call=answer.call, detail="Dropped:\n" + "\n".join(dropped))

    def kept(part: dict[str, Any]) -> dict[str, Any]:
        sentences = [s for s in part.get("sentences", []) if id(s) not in refused_ids]
        return {**part, "sentences": sentences}

    pruned: dict[str, Any] = {
        "groups": [kept(group) for group in summary["groups"]],
        "overview": kept(summary["overview"]),
    }
    refusal: list[str] = []
    if len(dropped) > MAX_DROPPED_SHARE * len(checked):
        refusal.append(
            f"{len(dropped)} of the {len(checked)} sentences that cite statements were refused"
        )
    representative = {
        group.id: {display_id(rep.statement) for rep in group.representative}
        for group in view.groups
    }
    for group in pruned["groups"]:
        own = representative.get(group["id"], set())
        if not any(str(ref) in own for s in group["sentences"] for ref in s["citations"]):
            refusal.append(
                f"group {group['id']} has no sentence left from its own representative statements"
            )
    if not pruned["overview"]["sentences"]:
        _, pruned["overview"] = extractive_summary(view, facts)
    return Verification(
        summary=pruned,
        dropped=dropped,
        refusal=dropped + refusal if refusal else [],
        call=answer.call,
    )


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
            limitations = [GATE_LIMITATION]
            if not problems:
                try:
                    verified = verify_summary(
                        summary=answer.data, view=view, facts=facts, provider=provider
                    )
                except AssistantUnavailable:
                    limitations = [VERIFY_FAILED_LIMITATION]
                    break
                if not verified.refusal:
                    return _published(view, verified, answer.call)
                problems, limitations = verified.refusal, [VERIFY_LIMITATION]
            ai_call_mark_gate_failed(call=answer.call, reasons=problems)
            messages = [
                *messages,
                {"role": "assistant", "content": answer.call.output},
                prompts.gate_feedback(problems),
            ]
    groups, overview = extractive_summary(view, facts)
    return SummaryResult(groups=groups, overview=overview, limitations=limitations, call=last_call)


def _published(view: GroupsView, verified: Verification, call: AICall) -> SummaryResult:
    by_id = {group["id"]: group for group in verified.summary["groups"]}
    overview = verified.summary["overview"]
    return SummaryResult(
        groups=[{**by_id[group.id], "source": SummarySource.LLM.value} for group in view.groups],
        overview={"source": SummarySource.LLM.value, **overview},
        limitations=[dropped_limitation(len(verified.dropped))] if verified.dropped else [],
        call=call,
    )
