"""What the participant pages show, assembled from the selectors.

Reads only. The views render these and keep no rules of their own; the rules (who sees
what, which statement comes next) stay in ``deliberation.selectors``.
"""

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from deliberation.models import Conversation, Participant, Statement, StatementStatus, Vote
from deliberation.selectors.conversations import (
    WriteState,
    conversation_list_public,
    conversation_write_state,
    statement_list_visible,
)
from deliberation.selectors.report import report_refusal
from deliberation.selectors.routing import (
    Progress,
    participant_progress,
    statement_next_for_participant,
)


@dataclass(frozen=True)
class HomeEntry:
    conversation: Conversation
    statements: int
    participants: int
    state: WriteState
    report_readable: bool


def conversation_list_for_home() -> list[HomeEntry]:
    """Public conversations, open ones first, with their accepted statements and the
    people who have voted counted."""
    # Counted in subqueries: two joined Counts would multiply statements by votes.
    accepted = (
        Statement.objects.filter(conversation=OuterRef("pk"), status=StatementStatus.ACCEPTED)
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    voters = (
        Vote.objects.filter(conversation=OuterRef("pk"))
        .values("conversation")
        .annotate(n=Count("participant", distinct=True))
        .values("n")
    )
    conversations = conversation_list_public().annotate(
        n_statements=Coalesce(Subquery(accepted, output_field=IntegerField()), 0),
        n_participants=Coalesce(Subquery(voters, output_field=IntegerField()), 0),
    )
    entries = [
        HomeEntry(
            conversation=conversation,
            statements=conversation.n_statements,
            participants=conversation.n_participants,
            state=conversation_write_state(conversation=conversation),
            report_readable=report_refusal(conversation=conversation, user=None) is None,
        )
        for conversation in conversations.order_by("-created_at")
    ]
    # Open conversations first; sorted() is stable, so newest first within each part.
    return sorted(entries, key=lambda entry: entry.state is not WriteState.OPEN)


@dataclass(frozen=True)
class VotingCard:
    """The statement on the card (None: nothing to vote on now), the progress bar, and
    whether the conversation takes votes at all."""

    statement: Statement | None
    progress: Progress
    state: WriteState
    notice: str = ""
    """Why a linked statement is not on the card (then no other statement is)."""


def voting_card(
    *,
    conversation: Conversation,
    participant: Participant | None,
    requested: object = None,
    kept_out: bool = False,
    linked: bool = False,
) -> VotingCard:
    """The card to show this participant, or this visitor (``None``: not yet a participant,
    who has voted on nothing). ``kept_out``: the access mode refuses them, so no card.

    ``requested`` (a statement id from a link or from the card the page already shows) is
    kept when the participant can still vote on it; otherwise the routing draws the next,
    except for a ``linked`` one that is not open for voting at all: the card says so.
    """
    state = conversation_write_state(conversation=conversation)
    progress = participant_progress(conversation_id=conversation.pk, participant=participant)
    if kept_out or state is not WriteState.OPEN:
        return VotingCard(statement=None, progress=progress, state=state)
    statement = _unvoted_statement(
        conversation=conversation, participant=participant, requested=requested
    )
    if statement is None and linked and requested and not _open_for_voting(conversation, requested):
        # A link to a rejected, pending or unknown statement: say so rather than putting
        # another statement in its place, which would read as the one linked to.
        return VotingCard(
            statement=None,
            progress=progress,
            state=state,
            notice=f"Statement {str(requested)[:20]} is not open for voting: it is not in this "
            "conversation, or the moderators have not accepted it.",
        )
    if statement is None:
        statement = statement_next_for_participant(
            conversation_id=conversation.pk, participant=participant
        )
    return VotingCard(statement=statement, progress=progress, state=state)


def _open_for_voting(conversation: Conversation, requested: object) -> bool:
    try:
        pk = int(str(requested))
    except ValueError:
        return False
    return Statement.objects.filter(
        conversation=conversation, pk=pk, status=StatementStatus.ACCEPTED
    ).exists()


def _unvoted_statement(
    *, conversation: Conversation, participant: Participant | None, requested: object
) -> Statement | None:
    try:
        pk = int(str(requested))
    except ValueError:
        return None
    unvoted = Statement.objects.filter(
        conversation=conversation, pk=pk, status=StatementStatus.ACCEPTED
    )
    if participant is not None:
        unvoted = unvoted.exclude(votes__participant=participant)
    return unvoted.first()


@dataclass(frozen=True)
class DuplicateOffer:
    """The statement a refused duplicate collided with, as this participant may see it."""

    statement: Statement
    already_voted: bool

    @property
    def can_vote(self) -> bool:
        return self.statement.status == StatementStatus.ACCEPTED and not self.already_voted


def duplicate_offer(
    *, conversation: Conversation, participant: Participant | None, existing_id: int
) -> DuplicateOffer | None:
    """What to offer instead of a duplicate, or None when the existing statement is hidden
    from this participant (someone else's pending statement, or a rejected one)."""
    existing = (
        statement_list_visible(conversation=conversation, participant=participant)
        .filter(pk=existing_id)
        .first()
    )
    if existing is None:
        return None
    voted = (
        participant is not None
        and Vote.objects.filter(participant=participant, statement=existing).exists()
    )
    return DuplicateOffer(statement=existing, already_voted=voted)
