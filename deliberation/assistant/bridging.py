"""Bridging suggestions: statements every group might accept, each with a forecast.

The model drafts candidates from each group's representative statements and the consensus
(as delimited data). Each candidate is checked for novelty against the conversation's
statements (a near-copy, probable tier or above, is dropped) and gets a forecast p_hat_g for
every group from the most similar accepted, non-meta statements with at least
MIN_GROUP_VOTES votes in every group: their smoothed agreement p_g weighted by similarity and
by votes, with an uncertainty. A candidate with no such neighbour has "no forecast". The
candidates are ranked by the lower bound of the smallest group's forecast.

Offline, or when the model fails, nothing new can be written: the existing statements that
every group already agrees with (each group's p_g >= 0.5, enough votes in each, accepted and
not meta) are ranked instead by the same lower bound, and the limitation says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deliberation.assistant import prompts
from deliberation.assistant.duplicates import (
    Match,
    duplicate_check,
    duplicate_thresholds,
    similarity_matrix,
)
from deliberation.assistant.gate import SummaryFacts
from deliberation.assistant.provider import AssistantUnavailable, Provider
from deliberation.assistant.summaries import display_id, prompt_payload, summary_facts
from deliberation.models import AICall, AIPurpose, Snapshot, Statement, StatementStatus
from deliberation.models.assistant import DuplicateTier
from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.selectors.groups import GroupsView, groups_view
from deliberation.templatetags.group_names import group_name

LLM = "llm"
OFFLINE = "offline"
BRIDGE_COUNT = 5
FORECAST_NEIGHBOURS = 8
# A statement counts as evidence of how a group takes things, or as bridging already, only
# with this many votes from that group: 0-1 votes say nothing.
MIN_GROUP_VOTES = 5
# A neighbour's votes count as n / (n + VOTES_HALF_WEIGHT) of a fully voted one.
VOTES_HALF_WEIGHT = 5
# How much the group's mean agreement weighs against the neighbours (a neighbour with many
# votes at the top similarity weighs 1).
PRIOR_WEIGHT = 1.0
# Already bridging: every group agrees (smoothed p >= 0.5) with the statement.
AGREES = 0.5
NO_FORECAST = "no forecast"
OFFLINE_BRIDGE_LIMITATION = (
    "AI drafting of bridging statements is unavailable: showing the existing statements "
    "that already find agreement in every group instead."
)


@dataclass(frozen=True)
class Forecast:
    groups: dict[int, float]
    """Group id to forecast agreement p_hat_g; empty when no similar statement was voted
    on enough ("no forecast", never a made-up 0.5)."""
    neighbours: list[int]
    """The existing statements the forecast was read from, most similar first."""
    spread: dict[int, float] = field(default_factory=dict)
    """Group id to the forecast's uncertainty (one standard deviation)."""

    @property
    def bridging(self) -> float | None:
        """The least convinced group's forecast agreement, None without a forecast."""
        return min(self.groups.values()) if self.groups else None

    @property
    def lower_bound(self) -> float | None:
        """What the ranking uses: the smallest group's agreement less its uncertainty."""
        if not self.groups:
            return None
        return min(p - self.spread.get(group, 0.0) for group, p in self.groups.items())

    @property
    def percent_by_group(self) -> list[tuple[str, int]]:
        """How people read it: each group's name and forecast agreement in percent."""
        return [(group_name(gid), round(100 * p)) for gid, p in sorted(self.groups.items())]


def _rank_key(candidate: Candidate) -> tuple[bool, float]:
    bound = candidate.forecast.lower_bound
    return (bound is None, -(bound or 0.0))


@dataclass(frozen=True)
class Candidate:
    text: str
    rationale: str
    based_on: list[int]
    forecast: Forecast
    similar: Match | None
    """The closest existing statement when it is at least related."""
    existing_id: int | None = None
    """Offline: the existing statement ranked as a bridge."""


@dataclass(frozen=True)
class BridgingDraft:
    snapshot: Snapshot
    candidates: list[Candidate]
    source: str
    limitations: list[str]
    call: AICall | None
    dropped_duplicates: int = 0


def _evidence(view: GroupsView, facts: SummaryFacts) -> list[Statement]:
    """Accepted, non-meta statements with enough votes in every group, in id order."""
    group_ids = [group.id for group in view.groups]
    enough = [
        stats.statement.id
        for stats in view.statements
        if all(
            facts.tallies.get(stats.statement.id, {}).get(group, (0, 0, 0))[2] >= MIN_GROUP_VOTES
            for group in group_ids
        )
    ]
    return list(
        Statement.objects.filter(
            pk__in=enough, status=StatementStatus.ACCEPTED, is_meta=False
        ).order_by("pk")
    )


def forecast_from_neighbours(
    *,
    similarities: Sequence[float],
    agreement: Sequence[dict[int, tuple[int, int]]],
    neighbour_ids: Sequence[int],
    related: float,
) -> Forecast:
    """A forecast from voted statements: ``similarities`` to each, ``agreement`` per group
    (agree votes, votes). Each of the most similar ones at least "related" weighs by how
    far above "related" it is and by its votes, against the group's mean agreement as a
    prior; the spread adds the neighbours' disagreement to the sampling error of the
    evidence. Without a neighbour at least "related" there is no forecast. Pure: the
    calibration benchmark calls it too."""
    order = sorted(range(len(similarities)), key=lambda i: -similarities[i])
    chosen = [i for i in order[:FORECAST_NEIGHBOURS] if similarities[i] >= related]
    groups: dict[int, float] = {}
    spread: dict[int, float] = {}
    for group in {group for i in chosen for group in agreement[i]}:
        # The group's mean agreement over every voted statement is the prior the neighbours
        # pull away from: a few weak neighbours move the forecast a little, many close ones
        # a lot.
        everyone = [(t[0] + 1) / (t[1] + 2) for item in agreement if (t := item.get(group))]
        weights, values = [PRIOR_WEIGHT], [float(np.mean(everyone))]
        for i in chosen:
            agree, votes = agreement[i].get(group, (0, 0))
            if votes:
                closeness = (similarities[i] - related) / (1 - related)
                weights.append(closeness * votes / (votes + VOTES_HALF_WEIGHT))
                values.append((agree + 1) / (votes + 2))
        w, v = np.asarray(weights), np.asarray(values)
        total = float(w.sum())
        mean = float(w @ v / total)
        effective = total**2 / float(w @ w)
        between = float(w @ (v - mean) ** 2 / total)
        groups[group] = mean
        spread[group] = float(np.sqrt(between + mean * (1 - mean) / (effective + 1)))
    if not groups:
        return Forecast(groups={}, neighbours=[])
    return Forecast(groups=groups, neighbours=[neighbour_ids[i] for i in chosen], spread=spread)


def forecast_agreement(
    *, provider: Provider, view: GroupsView, facts: SummaryFacts, texts: list[str]
) -> tuple[list[Forecast], list[str]]:
    """Each text's forecast agreement per group, from its most similar voted statements."""
    statements = _evidence(view, facts)
    group_ids = [group.id for group in view.groups]
    similarity = similarity_matrix(
        provider=provider,
        texts=texts,
        statements=statements,
        conversation=view.snapshot.conversation,
    )
    related = duplicate_thresholds(similarity.method).related
    agreement = [
        {
            group: (facts.tallies[statement.pk][group][0], facts.tallies[statement.pk][group][2])
            for group in group_ids
            if group in facts.tallies.get(statement.pk, {})
        }
        for statement in statements
    ]
    forecasts = [
        forecast_from_neighbours(
            similarities=[float(score) for score in row],
            agreement=agreement,
            neighbour_ids=[statement.pk for statement in statements],
            related=related,
        )
        for row in similarity.matrix
    ]
    return forecasts, similarity.limitations


def _offline_candidates(view: GroupsView, facts: SummaryFacts, count: int) -> list[Candidate]:
    """Existing statements every group already agrees with, surest first: ranked by the
    smallest group's agreement less one standard deviation of its sampling error, then by
    the Community Notes intercept the clustering computed."""
    intercepts = {stats.statement.id: stats.cn_intercept for stats in view.statements}
    candidates = []
    for statement in _evidence(view, facts):
        groups, spread = {}, {}
        for group in view.groups:
            p = facts.p_agree(statement.pk, group.id)
            groups[group.id] = p
            spread[group.id] = float(
                np.sqrt(p * (1 - p) / (facts.tallies[statement.pk][group.id][2] + 2))
            )
        if min(groups.values()) < AGREES:
            continue  # It splits the groups, or nobody agrees: not a bridge.
        forecast = Forecast(groups=groups, neighbours=[statement.pk], spread=spread)
        share = round(100 * min(groups.values()))
        candidates.append(
            Candidate(
                text=statement.text,
                rationale=f"Already in the conversation: at least {share}% of every group "
                "agrees with it.",
                based_on=[statement.pk],
                forecast=forecast,
                similar=None,
                existing_id=statement.pk,
            )
        )
    candidates.sort(
        key=lambda candidate: (
            _rank_key(candidate),
            -(intercepts.get(candidate.existing_id or 0) or 0.0),
        )
    )
    return candidates[:count]


def draft_bridges(
    *, snapshot: Snapshot, provider: Provider, count: int = BRIDGE_COUNT
) -> BridgingDraft:
    """Bridging candidates for the snapshot's groups, best forecast first."""
    view = groups_view(snapshot=snapshot)
    facts = summary_facts(view)
    ids_by_display = {display_id(stats.statement): stats.statement.id for stats in view.statements}
    try:
        answer = provider.chat_json(
            purpose=AIPurpose.BRIDGE,
            prompt_version=prompts.BRIDGE_VERSION,
            messages=prompts.bridge_messages(prompt_payload(view), count),
            schema_name="bridging_statements",
            schema=prompts.BRIDGE_SCHEMA,
            conversation=snapshot.conversation,
            statement_ids=sorted(ids_by_display.values()),
        )
    except AssistantUnavailable as unavailable:
        return BridgingDraft(
            snapshot=snapshot,
            candidates=_offline_candidates(view, facts, count),
            source=OFFLINE,
            limitations=[OFFLINE_BRIDGE_LIMITATION, unavailable.limitation],
            call=None,
        )
    drafts = []
    seen: set[str] = set()
    for item in answer.data["candidates"]:
        text = " ".join(str(item["text"]).split())
        # The model's text is untrusted too: over-long or repeated drafts are not statements.
        if not text or len(text) > STATEMENT_MAX_LENGTH or text.lower() in seen:
            continue
        seen.add(text.lower())
        based_on = [ids_by_display[ref] for ref in item["based_on"] if ref in ids_by_display]
        drafts.append((text, str(item["rationale"]).strip(), based_on))
    limitations: list[str] = []
    novel = []
    for text, rationale, based_on in drafts:
        check = duplicate_check(
            provider=provider,
            conversation=snapshot.conversation,
            text=text,
            include_pending=True,
            limit=1,
        )
        limitations += [note for note in check.limitations if note not in limitations]
        # A near-copy (probable tier or above) is not a new bridge.
        if check.tier in (DuplicateTier.DUPLICATE, DuplicateTier.PROBABLE):
            continue
        novel.append((text, rationale, based_on, check.matches[0] if check.matches else None))
    forecasts, forecast_limits = forecast_agreement(
        provider=provider, view=view, facts=facts, texts=[text for text, *_ in novel]
    )
    limitations += [note for note in forecast_limits if note not in limitations]
    candidates = [
        Candidate(
            text=text, rationale=rationale, based_on=based_on, forecast=forecast, similar=similar
        )
        for (text, rationale, based_on, similar), forecast in zip(novel, forecasts, strict=True)
    ]
    # Candidates with evidence first, by the lower bound; "no forecast" ones last.
    candidates.sort(key=_rank_key)
    return BridgingDraft(
        snapshot=snapshot,
        candidates=candidates,
        source=LLM,
        limitations=limitations,
        call=answer.call,
        dropped_duplicates=len(drafts) - len(novel),
    )


def realised_agreement(
    *, facts: SummaryFacts, statement_id: int, forecast: dict[str, float]
) -> tuple[dict[str, dict[str, float]], int, float | None]:
    """Real agreement p_g beside the forecast p_hat_g for every forecast group the snapshot
    still has, the votes behind it, and the mean absolute error (None before any vote)."""
    tallies = facts.tallies.get(statement_id, {})
    realised: dict[str, dict[str, float]] = {}
    votes = 0
    for group_key, predicted in forecast.items():
        group_id = int(group_key)
        if group_id not in tallies:
            continue
        votes += tallies[group_id][2]
        real = facts.p_agree(statement_id, group_id)
        realised[group_key] = {"forecast": predicted, "real": real, "error": real - predicted}
    if not votes:
        return {}, 0, None
    error = sum(abs(item["error"]) for item in realised.values()) / len(realised)
    return realised, votes, error
