"""Topics as readers see them: per topic, how each opinion group votes and whether they split.

Built from the report's statement rows of one snapshot (accepted, not moderated out), so a
topic shows only what the report may show. The one number per topic is its **polarization**:
the vote-weighted mean over its statements of Pol(c) = max_g p_g(c) - min_g p_g(c)
(metrics.md, "conversation polarization", restricted to the topic). At or above the report's
divisive bar (0.3) the groups split on the topic; below it they vote alike.
"""

from dataclasses import dataclass
from typing import Any

from deliberation.models import Conversation, StatementStatus, StatementTopic, Topic
from deliberation.selectors.groups import group_label
from deliberation.selectors.report import DIVISIVE_AT, StatementRow

TOPIC_LIST_LENGTH = 3


@dataclass(frozen=True)
class GroupOnTopic:
    group_id: int
    agree: int
    total: int

    @property
    def letter(self) -> str:
        return group_label(self.group_id)

    @property
    def p(self) -> float:
        """Smoothed share of the group's votes on the topic that agree: (A+1)/(S+2)."""
        return (self.agree + 1) / (self.total + 2)

    @property
    def pct(self) -> int:
        return round(100 * self.p)


@dataclass(frozen=True)
class TopicReport:
    number: int
    name: str
    name_source: str
    description: str
    size: int
    statements: list[StatementRow]
    groups: list[GroupOnTopic]
    polarization: float | None
    consensus: list[StatementRow]
    divisive: list[StatementRow]

    @property
    def split(self) -> bool | None:
        return None if self.polarization is None else self.polarization >= DIVISIVE_AT

    @property
    def reading(self) -> str:
        if self.split is None:
            return "Not enough votes to say."
        return "The groups split on this topic." if self.split else "The groups vote alike here."


def _polarization(rows: list[StatementRow]) -> float | None:
    weighted = [(row.polarization, row.total) for row in rows if row.polarization is not None]
    votes = sum(total for _, total in weighted)
    if not votes:
        return None
    return sum(p * total for p, total in weighted) / votes


def _ranked(rows: list[StatementRow], metric: str) -> list[StatementRow]:
    scored = [row for row in rows if getattr(row, metric) is not None]
    return sorted(scored, key=lambda row: (-row.sort_key(metric), row.id))


def topics_report(*, conversation: Conversation, rows: list[StatementRow]) -> list[TopicReport]:
    """The conversation's topics (largest first, "other" last) with their statements' votes.

    ``rows`` are the report's statement rows: a statement the report hides never appears.
    """
    topics = list(Topic.objects.filter(conversation=conversation, parent=None))
    if not topics:
        return []
    by_statement = dict(
        StatementTopic.objects.filter(topic__conversation=conversation).values_list(
            "statement_id", "topic_id"
        )
    )
    members: dict[int, list[StatementRow]] = {t.pk: [] for t in topics}
    for row in rows:
        topic_id = by_statement.get(row.id)
        if topic_id in members:
            members[topic_id].append(row)
    out = []
    for topic in topics:
        topic_rows = sorted(members[topic.pk], key=lambda r: r.id)
        votes = [row for row in topic_rows if not row.is_meta]
        tallies: dict[int, list[int]] = {}
        for row in votes:
            for g in row.groups:
                tally = tallies.setdefault(g.group_id, [0, 0])
                tally[0] += g.agree
                tally[1] += g.total
        by = {name: _ranked(votes, name) for name in ("consensus", "divisiveness")}
        out.append(
            TopicReport(
                number=topic.number,
                name=topic.name,
                name_source=topic.name_source,
                description=topic.description,
                size=len(topic_rows),
                statements=topic_rows,
                groups=[GroupOnTopic(g, a, t) for g, (a, t) in sorted(tallies.items())],
                polarization=_polarization(votes),
                consensus=by["consensus"][:TOPIC_LIST_LENGTH],
                divisive=[
                    r for r in by["divisiveness"] if float(r.divisiveness or 0) >= DIVISIVE_AT
                ][:TOPIC_LIST_LENGTH],
            )
        )
    return sorted((t for t in out if t.size), key=lambda t: (t.number == 0, -t.size, t.number))


def topics_document(*, conversation: Conversation) -> list[dict[str, Any]]:
    """The topics and subtopics as JSON-ready data: accepted statements only, by id."""
    topics = list(Topic.objects.filter(conversation=conversation).select_related("parent"))
    members: dict[int, list[int]] = {t.pk: [] for t in topics}
    rows = StatementTopic.objects.filter(
        topic__conversation=conversation, statement__status=StatementStatus.ACCEPTED
    ).order_by("statement_id")
    for statement_id, topic_id, subtopic_id in rows.values_list(
        "statement_id", "topic_id", "subtopic_id"
    ):
        members[topic_id].append(statement_id)
        if subtopic_id is not None:
            members[subtopic_id].append(statement_id)
    return [
        {
            "number": t.number,
            "parent": None if t.parent is None else t.parent.number,
            "name": t.name,
            "name_source": t.name_source,
            "description": t.description,
            "is_other": t.is_other,
            "statements": members[t.pk],
        }
        for t in topics
    ]


def topics_for_console(*, conversation: Conversation) -> list[Topic]:
    """The topics (not subtopics) for the moderators' dashboard, largest first."""
    return sorted(
        Topic.objects.filter(conversation=conversation, parent=None),
        key=lambda t: (t.is_other, -t.size, t.number),
    )
