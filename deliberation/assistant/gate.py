"""The deterministic gate every group summary passes before anyone sees it.

A summary is a claim about what people think; the gate checks each claim against the votes:

- every cited statement exists, is accepted and belongs to this conversation;
- a sentence saying a group agrees cites only statements that group agrees with
  (p = (A+1)/(S+2) >= 0.5 in the snapshot), likewise for disagreement; in the overview,
  "agrees" means every group does;
- every number in the text is one the statistics contain (a group size, the number of groups
  or participants, a cited statement's counts or percentages, or a number in a cited
  statement's own text);
- every group is summarized, the smallest included, from its own representative statements.
"""

import re
from dataclasses import dataclass
from typing import Any

from deliberation.models import Statement, StatementStatus

AGREES = "agrees"
DISAGREES = "disagrees"
DESCRIBES = "describes"
STANCES = (AGREES, DISAGREES, DESCRIBES)
MIN_SENTENCES = 2
MAX_SENTENCES = 4
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?")
# Words that are numbers people read as claims ("two camps"); larger ones come as digits.
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class GroupFacts:
    id: int
    size: int
    representative: list[int]
    """Statement ids that represent the group in the snapshot."""


@dataclass(frozen=True)
class SummaryFacts:
    """What the gate checks a summary against: one snapshot's groups and statistics."""

    conversation_id: int
    groups: list[GroupFacts]
    participant_counts: tuple[int, ...]
    """Participants in the snapshot, and those placed in groups."""
    tallies: dict[int, dict[int, tuple[int, int, int]]]
    """Statement id to group id to (agree, disagree, total)."""

    def p_agree(self, statement_id: int, group_id: int) -> float:
        agree, _, total = self.tallies.get(statement_id, {}).get(group_id, (0, 0, 0))
        return (agree + 1) / (total + 2)

    def p_disagree(self, statement_id: int, group_id: int) -> float:
        _, disagree, total = self.tallies.get(statement_id, {}).get(group_id, (0, 0, 0))
        return (disagree + 1) / (total + 2)

    def numbers_about(self, statement_id: int) -> set[float]:
        """Counts and percentages (smoothed and raw, rounded) of one statement's tallies."""
        found: set[float] = set()
        for agree, disagree, total in self.tallies.get(statement_id, {}).values():
            passes = total - agree - disagree
            found |= {agree, disagree, passes, total}
            for count in (agree, disagree, passes):
                found.add(round(100 * (count + 1) / (total + 2)))
                if total:
                    found.add(round(100 * count / total))
        return found


def _numbers(text: str) -> list[float]:
    numbers = [float(match.replace(",", "")) for match in _NUMBER.findall(text)]
    words = _WORD.findall(text.lower())
    numbers += [float(_NUMBER_WORDS[word]) for word in words if word in _NUMBER_WORDS]
    return numbers


def _resolve(
    citations: list[Any], statements: dict[str, Statement]
) -> tuple[list[Statement], list[str]]:
    resolved, problems = [], []
    for citation in citations:
        statement = statements.get(str(citation))
        if statement is None:
            problems.append(f"cites statement {citation!r}, which is not in this conversation")
        elif statement.status != StatementStatus.ACCEPTED:
            problems.append(f"cites statement {citation!r}, which is not accepted")
        else:
            resolved.append(statement)
    return resolved, problems


def _check_sentence(
    where: str,
    sentence: dict[str, Any],
    group_ids: list[int],
    facts: SummaryFacts,
    statements: dict[str, Statement],
    global_numbers: set[float],
) -> tuple[list[Statement], list[str]]:
    text, stance = str(sentence.get("text", "")), sentence.get("stance")
    cited, problems = _resolve(list(sentence.get("citations") or []), statements)
    problems = [f"{where} {problem}" for problem in problems]
    if stance not in STANCES:
        problems.append(f"{where} has no valid stance ({stance!r})")
    if stance in (AGREES, DISAGREES) and not sentence.get("citations"):
        problems.append(f"{where} says who {stance[:-1]}s with what but cites no statement")
    for statement in cited:
        for group_id in group_ids:
            if stance == AGREES and facts.p_agree(statement.pk, group_id) < 0.5:
                problems.append(
                    f"{where} says group {group_id} agrees with statement "
                    f"{statement.display_id}, but it does not (p < 0.5)"
                )
            if stance == DISAGREES and facts.p_disagree(statement.pk, group_id) < 0.5:
                problems.append(
                    f"{where} says group {group_id} disagrees with statement "
                    f"{statement.display_id}, but it does not (p < 0.5)"
                )
    allowed = set(global_numbers)
    for statement in cited:
        allowed |= facts.numbers_about(statement.pk) | set(_numbers(statement.text))
    for number in _numbers(text):
        if not any(abs(number - known) <= 1 for known in allowed):
            problems.append(f"{where} states the number {number:g}, which the votes do not show")
    return cited, problems


def gate_check(*, summary: dict[str, Any], facts: SummaryFacts) -> list[str]:
    """Every reason this summary may not be shown; an empty list means it passes."""
    statements = {
        statement.display_id: statement
        for statement in Statement.objects.filter(conversation_id=facts.conversation_id)
    }
    display = {statement.pk: statement.display_id for statement in statements.values()}
    global_numbers = {float(len(facts.groups)), *map(float, facts.participant_counts)}
    global_numbers |= {float(group.size) for group in facts.groups}
    problems: list[str] = []
    by_id = {group.id: group for group in facts.groups}
    written = [group.get("id") for group in summary.get("groups", [])]
    for missing in sorted(set(by_id) - set(written)):
        size = by_id[missing].size
        problems.append(f"group {missing} ({size} people) is not summarized")
    for extra in [gid for gid in written if gid not in by_id] + [
        gid for gid in set(written) if written.count(gid) > 1
    ]:
        problems.append(f"group {extra!r} is not one of the snapshot's groups, or is repeated")
    for group in summary.get("groups", []):
        facts_group = by_id.get(group.get("id"))
        if facts_group is None:
            continue
        where = f"group {facts_group.id}"
        sentences = group.get("sentences") or []
        if not MIN_SENTENCES <= len(sentences) <= MAX_SENTENCES:
            problems.append(f"{where} has {len(sentences)} sentences, not 2 to 4")
        for number in _numbers(str(group.get("label", ""))):
            if not any(abs(number - known) <= 1 for known in global_numbers):
                problems.append(f"{where}'s label states the number {number:g}")
        cited_ids: set[int] = set()
        for i, sentence in enumerate(sentences, start=1):
            cited, found = _check_sentence(
                f"{where}, sentence {i},",
                sentence,
                [facts_group.id],
                facts,
                statements,
                global_numbers,
            )
            problems += found
            cited_ids |= {statement.pk for statement in cited}
        own = set(facts_group.representative)
        if own and not cited_ids & own:
            problems.append(f"{where} is not summarized from its own representative statements")
        for foreign in sorted(cited_ids - own):
            if not all(facts.p_agree(foreign, g.id) >= 0.5 for g in facts.groups):
                problems.append(
                    f"{where} cites statement {display.get(foreign, foreign)}, "
                    "which neither represents it nor has every group's agreement"
                )
    overview = summary.get("overview") or {}
    for i, sentence in enumerate(overview.get("sentences") or [], start=1):
        _, found = _check_sentence(
            f"overview, sentence {i},",
            sentence,
            [group.id for group in facts.groups],
            facts,
            statements,
            global_numbers,
        )
        problems += found
    return problems
