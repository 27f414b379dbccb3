"""Bridging suggestions: statements every group might accept, each with a forecast.

The model drafts candidates from each group's representative statements and the consensus
(as delimited data). Each candidate is checked for novelty against the conversation's
statements (a near-certain duplicate is dropped) and gets a forecast p_hat_g for every
group: the similarity-weighted smoothed agreement p_g of the most similar existing statements
in the snapshot (metrics.md, "Forecasting a new statement"). Its forecast bridging score is
min_g p_hat_g.

Offline, or when the model fails, nothing new can be written: the existing statements that
already bridge best are ranked instead, with their real per-group agreement, and the
limitation says so.
"""

from dataclasses import dataclass

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
FORECAST_NEIGHBOURS = 5
# (0 + 1) / (0 + 2): what the smoothed agreement says about a statement nobody voted on.
NO_EVIDENCE = 0.5
OFFLINE_BRIDGE_LIMITATION = (
    "AI drafting of bridging statements is unavailable: showing the existing statements "
    "that bridge the groups best instead."
)


@dataclass(frozen=True)
class Forecast:
    groups: dict[int, float]
    """Group id to forecast agreement p_hat_g."""
    neighbours: list[int]
    """The existing statements the forecast was read from, most similar first."""

    @property
    def bridging(self) -> float:
        return min(self.groups.values()) if self.groups else NO_EVIDENCE

    @property
    def percent_by_group(self) -> list[tuple[str, int]]:
        """How people read it: each group's name and forecast agreement in percent."""
        return [(group_name(gid), round(100 * p)) for gid, p in sorted(self.groups.items())]


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


def _voted_statements(view: GroupsView) -> list[Statement]:
    ids = [stats.statement.id for stats in view.statements]
    return list(
        Statement.objects.filter(pk__in=ids, status=StatementStatus.ACCEPTED).order_by("pk")
    )


def forecast_agreement(
    *, provider: Provider, view: GroupsView, facts: SummaryFacts, texts: list[str]
) -> tuple[list[Forecast], list[str]]:
    """Each text's forecast agreement per group, from its most similar voted statements."""
    statements = _voted_statements(view)
    group_ids = [group.id for group in view.groups]
    similarity = similarity_matrix(
        provider=provider,
        texts=texts,
        statements=statements,
        conversation=view.snapshot.conversation,
    )
    matrix, limitations = similarity.matrix, similarity.limitations
    related = duplicate_thresholds(similarity.method).related
    forecasts = []
    for row in matrix:
        order = [int(i) for i in np.argsort(-row, kind="stable")[:FORECAST_NEIGHBOURS]]
        # A statement below the "related" tier is about something else: it says nothing
        # about how people will take this one.
        weights = {statements[i].pk: float(row[i]) for i in order if row[i] >= related}
        total = sum(weights.values())
        groups = {
            group_id: (
                sum(w * facts.p_agree(sid, group_id) for sid, w in weights.items()) / total
                if total
                else NO_EVIDENCE
            )
            for group_id in group_ids
        }
        forecasts.append(Forecast(groups=groups, neighbours=list(weights)))
    return forecasts, limitations


def _offline_candidates(view: GroupsView, facts: SummaryFacts, count: int) -> list[Candidate]:
    ranked = sorted(
        (stats for stats in view.statements if stats.bridging is not None),
        key=lambda stats: -(stats.bridging or 0.0),
    )[:count]
    return [
        Candidate(
            text=stats.statement.text,
            rationale="Already in the conversation, and the least convinced group agrees "
            f"with it most ({round(100 * (stats.bridging or 0.0))}%).",
            based_on=[stats.statement.id],
            forecast=Forecast(
                groups={
                    group.id: facts.p_agree(stats.statement.id, group.id) for group in view.groups
                },
                neighbours=[stats.statement.id],
            ),
            similar=None,
            existing_id=stats.statement.id,
        )
        for stats in ranked
    ]


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
        if check.tier == DuplicateTier.DUPLICATE:
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
    candidates.sort(key=lambda candidate: -candidate.forecast.bridging)
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
