"""Reads that only the API needs, built on the shared selectors."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from deliberation.models import Conversation, Participant, Statement, Vote, VoteValue
from deliberation.selectors.conversations import statement_list_visible


def statement_list_with_tallies(
    *, conversation: Conversation, participant: Participant | None
) -> QuerySet[Statement]:
    """The statements this participant can see, each with its agree/disagree/pass counts.

    Per-statement subqueries rather than one join and GROUP BY: the paginator's count()
    then drops them, and a page only counts the votes of its own statements.
    """
    return statement_list_visible(conversation=conversation, participant=participant).annotate(
        n_agree=_tally(VoteValue.AGREE),
        n_disagree=_tally(VoteValue.DISAGREE),
        n_pass=_tally(VoteValue.PASS),
    )


def _tally(value: VoteValue) -> Coalesce:
    votes = (
        Vote.objects.filter(statement=OuterRef("pk"), value=value)
        .order_by()
        .values("statement")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(votes, output_field=IntegerField()), Value(0))


def vote_list_for_participant(*, participant: Participant | None) -> QuerySet[Vote]:
    """A participant's own latest votes, the most recent first; none for a mere visitor."""
    if participant is None:
        return Vote.objects.none()
    return Vote.objects.filter(participant=participant).order_by("-updated_at", "-id")
