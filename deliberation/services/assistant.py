"""The AI assistant's service functions: what views, commands and tasks call.

Each one picks the configured provider, does its work through ``deliberation/assistant/``
and returns what people are shown, with the limitations of any offline fallback.
"""

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from deliberation.assistant.bridging import (
    LLM,
    BridgingDraft,
    draft_bridges,
    realised_agreement,
)
from deliberation.assistant.chat import (
    GROUPS_HIDDEN,
    ChatReply,
    Intent,
    answer_question,
    brainstorm_bridges,
    check_draft,
    explain_groups,
    my_outcomes,
)
from deliberation.assistant.duplicates import (
    DuplicateCheck,
    duplicate_check,
    pair_verdicts,
    read_pairs_csv,
    statement_vectors_store,
)
from deliberation.assistant.moderation import screen_statement
from deliberation.assistant.provider import get_provider
from deliberation.assistant.summaries import summarize, summary_facts
from deliberation.errors import (
    Conflict,
    InvalidInput,
    NearDuplicateStatement,
    NotFound,
)
from deliberation.models import (
    AICall,
    AuditAction,
    BridgingSuggestion,
    Conversation,
    DuplicateFlag,
    DuplicateTier,
    ModeratorDecision,
    Participant,
    RateLimitAction,
    Snapshot,
    SnapshotStatus,
    SnapshotSummary,
    Statement,
    StatementStatus,
    SuggestionStatus,
)
from deliberation.models.assistant import ModerationFlag, ModerationScreening, ScreeningState
from deliberation.selectors.assistant import conversation_for_operator
from deliberation.selectors.groups import groups_view, groups_visible, snapshot_latest
from deliberation.services.moderation import audit_record, moderation_authorize
from deliberation.services.ratelimits import ratelimit_check
from deliberation.services.statements import (
    statement_clean_text,
    statement_create,
    statement_refuse_duplicate,
)


def assistant_dedupe_pairs(*, path: Path) -> dict[str, Any]:
    """Tier every pair of a CSV file with the configured provider (``assistant dedupe``)."""
    pairs = read_pairs_csv(path)
    verdicts, method, limitations = pair_verdicts(provider=get_provider(), pairs=pairs)
    return {
        "method": method,
        "limitations": limitations,
        "pairs": [
            {"a": a, "b": b, "tier": verdict.tier.value, "score": round(verdict.score, 4)}
            for (a, b), verdict in zip(pairs, verdicts, strict=True)
        ],
    }


def assistant_draft_check(
    *, conversation: Conversation, participant: Participant | None, text: object
) -> DuplicateCheck:
    """What a statement being drafted resembles, for the hints shown as the author types."""
    ratelimit_check(
        action=RateLimitAction.DRAFT_CHECK, conversation=conversation, participant=participant
    )
    return duplicate_check(
        provider=get_provider(), conversation=conversation, text=statement_clean_text(text)
    )


def assistant_summarize(*, snapshot: Snapshot) -> SnapshotSummary:
    """The snapshot's summaries, written once: a second call returns the stored ones."""
    existing = SnapshotSummary.objects.filter(snapshot=snapshot).first()
    if existing is not None:
        return existing
    if snapshot.status != SnapshotStatus.SUCCEEDED:
        raise InvalidInput("Only a finished snapshot can be summarized.", field="snapshot")
    result = summarize(snapshot=snapshot, provider=get_provider())
    try:
        with transaction.atomic():
            return SnapshotSummary.objects.create(
                snapshot=snapshot,
                groups=result.groups,
                overview=result.overview,
                limitations=result.limitations,
                ai_call=result.call,
            )
    except IntegrityError:
        # Race: two workers summarized the same snapshot at once; the first stored wins and
        # the other's model calls stay in the ledger.
        return SnapshotSummary.objects.get(snapshot=snapshot)


def _snapshot_latest_or_not_found(conversation: Conversation, *, nothing_to: str) -> Snapshot:
    snapshot = snapshot_latest(conversation=conversation)
    if snapshot is None:
        raise NotFound(f"This conversation has no opinion groups yet: nothing to {nothing_to}.")
    return snapshot


def assistant_summarize_latest(*, conversation: Conversation) -> SnapshotSummary:
    return assistant_summarize(
        snapshot=_snapshot_latest_or_not_found(conversation, nothing_to="summarize")
    )


def assistant_summary_document(*, slug: str) -> dict[str, Any]:
    """``assistant summarize SLUG``: the latest snapshot's summaries as JSON."""
    summary = assistant_summarize_latest(conversation=conversation_for_operator(slug=slug))
    return {
        "snapshot": summary.snapshot_id,
        "groups": summary.groups,
        "overview": summary.overview,
        "limitations": summary.limitations,
    }


def assistant_summary_schedule(*, snapshot_id: int) -> None:
    """Summarize a snapshot that just succeeded, in a worker, once the caller commits."""
    from deliberation.assistant.tasks import summary_generate  # The task imports this module.

    _send_after_commit(summary_generate, snapshot_id)


def _send_after_commit(task: Any, *ids: int) -> None:
    """Send a Celery task once the caller commits; a broker error is logged, never raised.

    Not ``functools.partial``: Django's robust on_commit names a failed callback by its
    ``__qualname__``, which a partial lacks, so the failure would escape as AttributeError.
    """

    def send() -> None:
        task.delay(*ids)

    transaction.on_commit(send, robust=True)


def assistant_snapshot_follow_up(*, snapshot_id: int) -> SnapshotSummary | None:
    """What the assistant does after each snapshot: its summaries, and the real agreement on
    approved bridging statements beside their forecasts. None if the snapshot was pruned."""
    snapshot = (
        Snapshot.objects.select_related("conversation")
        .filter(pk=snapshot_id, status=SnapshotStatus.SUCCEEDED)
        .first()
    )
    if snapshot is None:
        return None
    summary = assistant_summarize(snapshot=snapshot)
    bridging_outcomes_record(snapshot=snapshot)
    return summary


def _bridging_store(
    *, conversation: Conversation
) -> tuple[BridgingDraft, list[BridgingSuggestion]]:
    draft = draft_bridges(
        snapshot=_snapshot_latest_or_not_found(conversation, nothing_to="bridge"),
        provider=get_provider(),
    )
    if draft.source != LLM:
        # Offline candidates are existing statements: there is nothing new to approve.
        return draft, []
    stored = BridgingSuggestion.objects.bulk_create(
        BridgingSuggestion(
            conversation=conversation,
            snapshot=draft.snapshot,
            text=candidate.text,
            original_text=candidate.text,
            rationale=candidate.rationale,
            source=draft.source,
            based_on=candidate.based_on,
            forecast={str(group): p for group, p in candidate.forecast.groups.items()},
            forecast_bridging=candidate.forecast.lower_bound,
            ai_call=draft.call,
        )
        for candidate in draft.candidates
    )
    return draft, stored


def bridging_suggestions_draft(
    *, actor: AbstractBaseUser | AnonymousUser | None, conversation: Conversation
) -> tuple[BridgingDraft, list[BridgingSuggestion]]:
    """A moderator asks for new bridging suggestions, stored for review."""
    moderation_authorize(actor=actor, conversation=conversation)
    return _bridging_store(conversation=conversation)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def assistant_bridge_document(*, slug: str) -> dict[str, Any]:
    """``assistant bridge SLUG``: drafted candidates with their per-group forecasts as JSON."""
    draft, stored = _bridging_store(conversation=conversation_for_operator(slug=slug))
    ids: list[int | None] = [suggestion.pk for suggestion in stored] or [None] * len(
        draft.candidates
    )
    return {
        "snapshot": draft.snapshot.pk,
        "source": draft.source,
        "limitations": draft.limitations,
        "dropped_duplicates": draft.dropped_duplicates,
        "candidates": [
            {
                "suggestion": suggestion_id,
                "text": candidate.text,
                "rationale": candidate.rationale,
                "based_on": candidate.based_on,
                "existing_statement": candidate.existing_id,
                "forecast": {
                    str(group): round(p, 4) for group, p in candidate.forecast.groups.items()
                },
                "forecast_bridging": _rounded(candidate.forecast.lower_bound),
                "forecast_from": candidate.forecast.neighbours,
                "similar": (
                    None
                    if candidate.similar is None
                    else {
                        "statement": candidate.similar.statement.pk,
                        "tier": candidate.similar.verdict.tier.value,
                        "score": round(candidate.similar.verdict.score, 4),
                    }
                ),
            }
            for suggestion_id, candidate in zip(ids, draft.candidates, strict=True)
        ],
    }


BRIDGING_DECISIONS = ("approve", "reject")


def bridging_suggestion_decide(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    conversation: Conversation,
    suggestion_id: object,
    decision: str,
    text: object = None,
) -> BridgingSuggestion:
    """Approve (with the text as the moderator edited it) or reject a bridging suggestion.

    An approved one becomes an accepted statement marked AI-suggested, in the voting queue at
    once. The decision goes to the suggestion, to the AI ledger entry that drafted it and to
    the audit log, in one transaction.
    """
    moderator = moderation_authorize(actor=actor, conversation=conversation)
    if decision not in BRIDGING_DECISIONS:
        raise InvalidInput("The decision is either approve or reject.", field="decision")
    try:
        pk = int(str(suggestion_id))
    except ValueError:
        raise InvalidInput(
            f"{suggestion_id!r} is not a suggestion id.", field="suggestion"
        ) from None
    edited_text = statement_clean_text(text) if text not in (None, "") else None
    now = timezone.now()
    with transaction.atomic():
        # Race: two moderators deciding the same suggestion at once. The lock makes the
        # second wait and find it decided, so an approval creates exactly one statement.
        suggestion = (
            BridgingSuggestion.objects.select_for_update()
            .filter(conversation=conversation, pk=pk)
            .first()
        )
        if suggestion is None:
            raise NotFound(f"No bridging suggestion {pk} in this conversation.", field="suggestion")
        if suggestion.status != SuggestionStatus.PROPOSED:
            raise Conflict(
                f"This suggestion was already {suggestion.get_status_display().lower()}."
            )
        before = {"status": suggestion.status, "text": suggestion.text}
        if decision == "reject":
            suggestion.status = SuggestionStatus.REJECTED
            ledger_decision = ModeratorDecision.REJECTED
            audit_record(
                actor=moderator,
                conversation=conversation,
                action=AuditAction.STATEMENT_REJECTED,
                target_type="bridging_suggestion",
                target_id=suggestion.pk,
                before=before,
                after={"status": SuggestionStatus.REJECTED.value},
            )
        else:
            final_text = edited_text or suggestion.text
            statement = statement_create(
                conversation=conversation,
                text=final_text,
                author_user=moderator,
                status=StatementStatus.ACCEPTED,
                is_ai_suggested=True,
            )
            ledger_decision = (
                ModeratorDecision.EDITED
                if final_text != suggestion.original_text
                else ModeratorDecision.APPROVED
            )
            suggestion.status = SuggestionStatus.APPROVED
            suggestion.text = final_text
            suggestion.statement = statement
            audit_record(
                actor=moderator,
                conversation=conversation,
                action=AuditAction.STATEMENT_ACCEPTED,
                target_type="statement",
                target_id=statement.pk,
                before={**before, "bridging_suggestion": suggestion.pk},
                after={
                    "status": StatementStatus.ACCEPTED.value,
                    "text": final_text,
                    "is_ai_suggested": True,
                    "decision": ledger_decision.value,
                },
            )
        suggestion.decided_by = moderator
        suggestion.decided_at = now
        suggestion.save()
        if suggestion.ai_call_id is not None:
            AICall.objects.filter(pk=suggestion.ai_call_id).update(
                decision=ledger_decision, decided_by=moderator, decided_at=now
            )
    return suggestion


def bridging_outcomes_record(*, snapshot: Snapshot) -> int:
    """Store the real per-group agreement on approved bridging statements beside their
    forecasts, from this snapshot. Idempotent; returns how many suggestions were updated."""
    approved = list(
        BridgingSuggestion.objects.filter(
            conversation_id=snapshot.conversation_id,
            status=SuggestionStatus.APPROVED,
            statement__isnull=False,
        )
    )
    if not approved:
        return 0
    facts = summary_facts(groups_view(snapshot=snapshot))
    updated = 0
    for suggestion in approved:
        assert suggestion.statement_id is not None
        realised, votes, error = realised_agreement(
            facts=facts, statement_id=suggestion.statement_id, forecast=suggestion.forecast
        )
        if votes:
            updated += BridgingSuggestion.objects.filter(pk=suggestion.pk).update(
                realised=realised, realised_votes=votes, forecast_error=error
            )
    return updated


NEAR_DUPLICATE_MESSAGE = (
    "A very similar statement already exists: vote on it instead, or confirm that yours "
    "says something new."
)


def assistant_statement_submit(
    *,
    conversation: Conversation,
    participant: Participant,
    text: object,
    confirmed: bool,
) -> Statement:
    """Add a participant's statement after the duplicate check.

    A near-certain duplicate of a statement the participant can see is refused unless they
    confirmed theirs is different; every resemblance (pending statements included) becomes a
    DuplicateFlag for the moderators' queue. The check never fails the submit: a model that
    does not answer within the interactive timeout falls back to local similarity.
    """
    cleaned = statement_clean_text(text)
    # The exact same text is refused outright, with no "mine is different" way past it.
    statement_refuse_duplicate(conversation=conversation, text=cleaned)
    # The author is waiting: a slow model gets a short, single try, then local similarity.
    check = duplicate_check(
        provider=get_provider(interactive=True),
        conversation=conversation,
        text=cleaned,
        include_pending=True,
    )
    visible = [
        match
        for match in check.in_tier(DuplicateTier.DUPLICATE)
        if match.statement.status == StatementStatus.ACCEPTED
    ]
    if visible and not confirmed:
        raise NearDuplicateStatement(NEAR_DUPLICATE_MESSAGE, existing_id=visible[0].statement.pk)
    statement = statement_create(
        conversation=conversation, text=cleaned, author_participant=participant
    )
    with transaction.atomic():
        if check.vector is not None:
            # The check embedded the text already: the statement's vector is that one, so
            # it is computed once (the moderation screening embeds any statement without).
            statement_vectors_store(
                statements=[statement], model=check.vector_model, vectors=check.vector[None, :]
            )
        DuplicateFlag.objects.bulk_create(
            DuplicateFlag(
                statement=statement,
                similar_to=match.statement,
                tier=match.verdict.tier,
                score=match.verdict.score,
                stance=match.verdict.stance,
                method=check.judged_by,
            )
            for match in check.matches
        )
        moderation_screening_schedule(statement_ids=[statement.pk])
    return statement


# A screening running longer than this lost its worker (a model call with every retry takes
# about two minutes at most); one queued longer than the grace lost its task message.
SCREENING_STALE_S = 600.0
SCREENING_QUEUED_GRACE_S = 120.0
SCREENING_REAP_BATCH = 200

logger = logging.getLogger(__name__)


def moderation_screening_schedule(*, statement_ids: list[int]) -> None:
    """Queue the advisory flags of new statements, computed by a worker once the caller
    commits. Sending the task never fails the caller: a lost one is resent by the reaper."""
    from deliberation.assistant.moderation_tasks import moderation_flags_compute  # Imports us.

    # Race: the catch-up and a submit may schedule the same statement; the one-to-one
    # statement key keeps one screening and the claim lets one job compute it.
    ModerationScreening.objects.bulk_create(
        [ModerationScreening(statement_id=pk) for pk in statement_ids], ignore_conflicts=True
    )
    for statement_id in statement_ids:
        _send_after_commit(moderation_flags_compute, statement_id)


def _screening_claim(*, statement_id: int) -> int | None:
    """Take a statement's screening for this worker: the attempt number won, or None."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=SCREENING_STALE_S)
    # Race: a task delivered twice, or the reaper and a redelivery, claim at once. The UPDATE
    # re-checks its WHERE on the locked row, so exactly one claimant sees a row updated.
    won = (
        ModerationScreening.objects.filter(statement_id=statement_id)
        .filter(
            Q(state=ScreeningState.QUEUED)
            | Q(state=ScreeningState.RUNNING, claimed_at__lt=stale_before)
        )
        .update(state=ScreeningState.RUNNING, attempt=F("attempt") + 1, claimed_at=now)
    )
    if not won:
        return None
    return ModerationScreening.objects.values_list("attempt", flat=True).get(
        statement_id=statement_id
    )


def moderation_screening_run(*, statement_id: int) -> ModerationScreening | None:
    """Compute a statement's advisory flags: the model's, or the heuristics' offline.

    Returns the finished screening, or None when another worker has it or it is done. The
    flags never touch the statement's status: a moderator decides.
    """
    attempt = _screening_claim(statement_id=statement_id)
    if attempt is None:
        return None
    statement = Statement.objects.select_related("conversation").filter(pk=statement_id).first()
    if statement is None:
        return None  # Deleted since the claim, and its screening with it.
    result = screen_statement(provider=get_provider(), statement=statement)
    with transaction.atomic():
        # Race: a worker presumed dead by the reaper may finish after its successor claimed
        # the screening; the lock and the attempt check keep only the current claim's flags.
        screening = ModerationScreening.objects.select_for_update().get(statement_id=statement_id)
        if screening.state != ScreeningState.RUNNING or screening.attempt != attempt:
            return None
        ModerationFlag.objects.filter(statement_id=statement_id).delete()
        ModerationFlag.objects.bulk_create(
            ModerationFlag(
                statement_id=statement_id,
                kind=flag.kind,
                reason=flag.reason,
                confidence=flag.confidence,
                source=result.source,
                ai_call=result.call,
            )
            for flag in result.flags
        )
        screening.state = ScreeningState.DONE
        screening.source = result.source
        screening.limitations = result.limitations
        screening.ai_call = result.call
        screening.finished_at = timezone.now()
        screening.save()
    return screening


def moderation_screenings_reap() -> list[int]:
    """Resend the screenings whose job was lost, and start one for every pending
    participant's statement that never had one (submitted before the flags existed, or by
    a process that died between the statement and its screening). Returns statement ids."""
    now = timezone.now()
    lost = list(
        ModerationScreening.objects.filter(
            Q(
                state=ScreeningState.QUEUED,
                created_at__lt=now - timedelta(seconds=SCREENING_QUEUED_GRACE_S),
            )
            | Q(
                state=ScreeningState.RUNNING,
                claimed_at__lt=now - timedelta(seconds=SCREENING_STALE_S),
            )
        )
        .order_by("created_at")
        .values_list("statement_id", flat=True)[:SCREENING_REAP_BATCH]
    )
    never = list(
        Statement.objects.filter(status=StatementStatus.PENDING, author_participant__isnull=False)
        .exclude(Exists(ModerationScreening.objects.filter(statement=OuterRef("pk"))))
        .order_by("id")
        .values_list("pk", flat=True)[:SCREENING_REAP_BATCH]
    )
    from deliberation.assistant.moderation_tasks import moderation_flags_compute  # Imports us.

    # Sent like every other screening: a broker refusing one resend is logged and the next
    # reap retries it, instead of aborting the rest of this batch and the never-screened.
    for statement_id in lost:
        _send_after_commit(moderation_flags_compute, statement_id)
    if never:
        moderation_screening_schedule(statement_ids=never)
    if lost or never:
        logger.info("moderation flags: resent %s, started %s", lost, never)
    return lost + never


def assistant_chat(
    *,
    conversation: Conversation,
    participant: Participant | None,
    user: AbstractBaseUser | AnonymousUser | None,
    intent: object,
    text: object = "",
    confirmed: bool = False,
) -> ChatReply:
    """The chat panel's answer to one button or message."""
    try:
        chosen = Intent(intent)
    except ValueError:
        raise InvalidInput("Choose one of the assistant's questions.", field="intent") from None
    if chosen is not Intent.SUBMIT:
        # A submitted statement counts against the statement limits, in statement_create.
        ratelimit_check(
            action=RateLimitAction.DRAFT_CHECK
            if chosen is Intent.DRAFT
            else RateLimitAction.ASSISTANT,
            conversation=conversation,
            participant=participant,
        )
    shown = groups_visible(conversation=conversation, user=user)
    snapshot = snapshot_latest(conversation=conversation) if shown else None
    if not shown and chosen in (Intent.GROUPS, Intent.MINE, Intent.BRIDGES):
        # Saying "no groups yet" would be untrue: they exist, but are not for participants.
        return ChatReply(intent=chosen, paragraphs=[GROUPS_HIDDEN])
    if chosen is Intent.GROUPS:
        return explain_groups(snapshot=snapshot, participant=participant)
    if chosen is Intent.MINE:
        return my_outcomes(snapshot=snapshot, participant=participant)
    if chosen is Intent.BRIDGES:
        return brainstorm_bridges(provider=get_provider(), snapshot=snapshot)
    if chosen is Intent.DRAFT:
        return check_draft(
            provider=get_provider(), conversation=conversation, text=statement_clean_text(text)
        )
    if chosen is Intent.SUBMIT:
        if participant is None:
            raise InvalidInput("Join the conversation to add a statement.", field="intent")
        statement = assistant_statement_submit(
            conversation=conversation, participant=participant, text=text, confirmed=confirmed
        )
        added = (
            "Your statement is now in the conversation for others to vote on."
            if statement.status == StatementStatus.ACCEPTED
            else "Your statement will appear to others once a moderator has reviewed it."
        )
        return ChatReply(intent=chosen, paragraphs=[added], draft=statement.text)
    question = statement_clean_text(text)
    return answer_question(
        provider=get_provider(),
        conversation=conversation,
        snapshot=snapshot,
        participant=participant,
        question=question,
    )
