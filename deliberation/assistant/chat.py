"""The participant's assistant: answers to the intents of the chat panel.

Each intent has a deterministic answer built from the latest snapshot, its stored summary
and the participant's own statements; free questions go to the model, and offline they are
answered by a search over the accepted statements by meaning, each cited with every group's
agreement. What the model sees holds group totals and
this participant's own statements only, never another participant's identity or votes, so
it cannot reveal them. Model text is plain text, escaped when rendered.
"""

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from deliberation.assistant import prompts
from deliberation.assistant.bridging import LLM, Candidate, draft_bridges
from deliberation.assistant.duplicates import (
    DuplicateCheck,
    duplicate_check,
    duplicate_thresholds,
    similarity_matrix,
)
from deliberation.assistant.provider import AssistantUnavailable, Provider
from deliberation.assistant.summaries import extractive_summary, share_percent, summary_facts
from deliberation.models import (
    AIPurpose,
    Conversation,
    Participant,
    Snapshot,
    SnapshotSummary,
    Statement,
    StatementStatus,
)
from deliberation.selectors.groups import (
    GroupsView,
    group_label,
    groups_view,
    participant_position,
)
from deliberation.templatetags.group_names import group_name

SEARCH_INTRO = "What people say about this: the accepted statements closest to your question."
NOTHING_CLOSE = (
    "No accepted statement is close to that question yet. You can add your own, or choose "
    "one of the questions below."
)
# Statements the offline answer quotes, closest in meaning first.
SEARCH_RESULTS = 5
NO_GROUPS = "No opinion groups have formed yet: they appear once enough people have voted."
GROUPS_HIDDEN = "The moderators of this conversation have not shared its opinion groups."


class Intent(Enum):
    GROUPS = "groups"
    MINE = "mine"
    DRAFT = "draft"
    BRIDGES = "bridges"
    SUBMIT = "submit"
    ASK = "ask"


@dataclass(frozen=True)
class StatementOutcome:
    statement: Statement
    by_group: dict[int, int]
    """Group id to the percentage of the group's voters who agree."""

    @property
    def agreement(self) -> dict[str, int]:
        """The same, by group letter (as the API gives it)."""
        return {group_label(group_id): p for group_id, p in self.by_group.items()}

    @property
    def lowest(self) -> int | None:
        return min(self.by_group.values()) if self.by_group else None


@dataclass
class ChatReply:
    intent: Intent
    paragraphs: list[str] = field(default_factory=list)
    check: DuplicateCheck | None = None
    draft: str = ""
    ideas: list[Candidate] = field(default_factory=list)
    outcomes: list[StatementOutcome] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    source: str = "offline"


def _group_lines(view: GroupsView, summary: SnapshotSummary | None) -> list[str]:
    if summary is not None:
        groups, overview = summary.groups, summary.overview
    else:
        groups, overview = extractive_summary(view, summary_facts(view))
    by_id = {group["id"]: group for group in groups}
    camps = "camp" if view.k == 1 else "camps"
    lines = [f"There are {view.k} {camps} on this topic."]
    for group in view.groups:
        written = by_id.get(group.id, {})
        sentences = " ".join(sentence["text"] for sentence in written.get("sentences", []))
        name = group_name(group.id)
        label = written.get("label") or name
        lines.append(f"{name} ({group.size} people), “{label}”: {sentences}")
    lines += [sentence["text"] for sentence in overview.get("sentences", [])]
    return lines


def _my_group(view: GroupsView, participant: Participant | None) -> str:
    if participant is None:
        return "Vote on a few statements and the assistant can tell you which group you are in."
    position = participant_position(view=view, participant=participant)
    if position.group is None:
        return (
            "You are not in a group yet: people are placed once they have voted on a few "
            "statements."
        )
    return f"You are in {group_name(position.group.id)}."


def explain_groups(*, snapshot: Snapshot | None, participant: Participant | None) -> ChatReply:
    view = groups_view(snapshot=snapshot) if snapshot is not None else None
    return _groups_reply(view, participant)


def _groups_reply(view: GroupsView | None, participant: Participant | None) -> ChatReply:
    reply = ChatReply(intent=Intent.GROUPS)
    if view is None:
        reply.paragraphs = [NO_GROUPS]
        return reply
    summary = SnapshotSummary.objects.filter(snapshot=view.snapshot).first()
    reply.paragraphs = [*_group_lines(view, summary), _my_group(view, participant)]
    if summary is not None:
        reply.limitations = list(summary.limitations)
        reply.source = "llm" if summary.ai_call_id and not summary.limitations else "offline"
    return reply


def _authored(participant: Participant | None) -> list[Statement]:
    if participant is None:
        return []
    return list(Statement.objects.filter(author_participant=participant).order_by("id"))


def my_outcomes(*, snapshot: Snapshot | None, participant: Participant | None) -> ChatReply:
    mine = _authored(participant)
    # Someone who wrote nothing needs no groups: skip loading them.
    view = groups_view(snapshot=snapshot) if mine and snapshot is not None else None
    return _outcomes_reply(mine, view)


def _outcomes_reply(mine: list[Statement], view: GroupsView | None) -> ChatReply:
    reply = ChatReply(intent=Intent.MINE)
    if not mine:
        reply.paragraphs = ["You have not added a statement yet."]
        return reply
    stats = {}
    if view is not None:
        stats = {item.statement.id: item for item in view.statements}
    for statement in mine:
        found = stats.get(statement.pk)
        by_group = {}
        if found is not None and view is not None:
            by_group = {
                group.id: share_percent(tally.agree, tally)
                for group in view.groups
                if (tally := found.groups.get(group.id)) is not None and tally.total
            }
        reply.outcomes.append(StatementOutcome(statement=statement, by_group=by_group))
    for outcome in reply.outcomes:
        text = f"“{outcome.statement.text}”"
        if outcome.statement.status == StatementStatus.PENDING:
            reply.paragraphs.append(f"{text} is waiting for a moderator's review.")
        elif outcome.statement.status == StatementStatus.REJECTED:
            reply.paragraphs.append(f"{text} was not accepted by the moderators.")
        elif outcome.lowest is None:
            reply.paragraphs.append(f"{text} has no votes in the latest groups yet.")
        elif len(outcome.by_group) > 1:
            each = ", ".join(f"{group_name(group)} {p}%" for group, p in outcome.by_group.items())
            reply.paragraphs.append(
                f"Your statement {text} reached at least {outcome.lowest}% agreement across "
                f"all {len(outcome.by_group)} groups ({each})."
            )
        else:
            reply.paragraphs.append(f"Your statement {text} reached {outcome.lowest}% agreement.")
    return reply


def check_draft(*, provider: Provider, conversation: Conversation, text: str) -> ChatReply:
    check = duplicate_check(provider=provider, conversation=conversation, text=text)
    return ChatReply(
        intent=Intent.DRAFT,
        check=check,
        draft=text,
        limitations=check.limitations,
        source="llm" if provider.online and not check.limitations else "offline",
    )


def brainstorm_bridges(*, provider: Provider, snapshot: Snapshot | None) -> ChatReply:
    reply = ChatReply(intent=Intent.BRIDGES)
    if snapshot is None:
        reply.paragraphs = [NO_GROUPS]
        return reply
    draft = draft_bridges(snapshot=snapshot, provider=provider, count=3)
    reply.ideas, reply.limitations, reply.source = draft.candidates, draft.limitations, draft.source
    if draft.source == LLM:
        reply.paragraphs = [
            "Some statements people in every group might accept. Each is new to this "
            "conversation; you can check one and add it as your own."
        ]
    else:
        reply.paragraphs = ["These statements already find agreement in every group:"]
    return reply


def search_statements(
    *,
    provider: Provider,
    conversation: Conversation,
    snapshot: Snapshot | None,
    question: str,
) -> ChatReply:
    """The accepted statements closest in meaning to ``question`` (at least "related"),
    each cited by id with every group's agreement when the asker may see the groups."""
    reply = ChatReply(intent=Intent.ASK)
    accepted = list(
        Statement.objects.filter(
            conversation=conversation, status=StatementStatus.ACCEPTED
        ).order_by("id")
    )
    similarity = similarity_matrix(
        provider=provider, texts=[question], statements=accepted, conversation=conversation
    )
    related = duplicate_thresholds(similarity.method).related
    scores = similarity.matrix[0] if accepted else []
    order = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]
    found = [accepted[i] for i in order if scores[i] >= related][:SEARCH_RESULTS]
    if not found:
        reply.paragraphs = [NOTHING_CLOSE]
        return reply
    view = groups_view(snapshot=snapshot) if snapshot is not None else None
    stats = {item.statement.id: item for item in view.statements} if view is not None else {}
    reply.paragraphs = [SEARCH_INTRO]
    for statement in found:
        line = f"“{statement.text}” (#{statement.pk})"
        found_stats = stats.get(statement.pk)
        if view is not None and found_stats is not None:
            shares = [
                f"{group_name(group.id)} {share_percent(tally.agree, tally)}% agree"
                for group in view.groups
                if (tally := found_stats.groups.get(group.id)) is not None and tally.total
            ]
            line += ": " + (", ".join(shares) if shares else "no votes in the groups yet")
        reply.paragraphs.append(line + ".")
    reply.limitations = similarity.limitations
    return reply


def _chat_payload(snapshot: Snapshot | None, participant: Participant | None) -> dict[str, object]:
    view = groups_view(snapshot=snapshot) if snapshot is not None else None
    groups = _groups_reply(view, participant)
    mine = _outcomes_reply(_authored(participant), view)
    return {"groups": groups.paragraphs, "my_statements": mine.paragraphs}


def answer_question(
    *,
    provider: Provider,
    conversation: Conversation,
    snapshot: Snapshot | None,
    participant: Participant | None,
    question: str,
) -> ChatReply:
    """A free question, answered from the groups the asker may see (``snapshot`` is None when
    the moderators hid them) and the asker's own statements."""
    reply = ChatReply(intent=Intent.ASK)
    try:
        answer = provider.chat_json(
            purpose=AIPurpose.CHAT,
            prompt_version=prompts.CHAT_VERSION,
            messages=prompts.chat_messages(_chat_payload(snapshot, participant), question),
            schema_name="chat_reply",
            schema=prompts.CHAT_SCHEMA,
            conversation=conversation,
        )
    except AssistantUnavailable:
        # No model: the question is answered by a search over the statements by meaning,
        # each quoted with its id and every group's agreement. The panel says once that the
        # assistant works offline; the reply does not repeat it.
        return search_statements(
            provider=provider, conversation=conversation, snapshot=snapshot, question=question
        )
    reply.paragraphs = [str(answer.data["reply"])]
    reply.source = LLM
    return reply
