"""Votes: the latest value per (participant, statement), and the append-only log of all."""

from django.db import models

from deliberation.models.conversations import Conversation, Participant, Statement

REASON_MAX_LENGTH = 280


class VoteValue(models.IntegerChoices):
    AGREE = 1, "Agree"
    PASS = 0, "Pass"
    DISAGREE = -1, "Disagree"


_VALUE_IN_RANGE = models.Q(value__in=VoteValue.values)


class Vote(models.Model):
    """The latest vote of one participant on one statement (re-votes overwrite it).

    ``conversation`` is denormalised so the clustering job reads a conversation's whole
    matrix with one indexed scan, without a join.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="votes")
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField(choices=VoteValue.choices)
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True, default="")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Race: a double-tap sends two votes at once. Writes go through
            # INSERT ... ON CONFLICT (participant, statement) DO UPDATE, so both land
            # as one row holding the later value.
            models.UniqueConstraint(fields=["participant", "statement"], name="vote_unique"),
            models.CheckConstraint(condition=_VALUE_IN_RANGE, name="vote_value_in_range"),
        ]
        indexes = [models.Index(fields=["conversation", "participant"])]

    def __str__(self) -> str:
        return f"{self.participant_id} voted {self.value} on {self.statement_id}"


class VoteEvent(models.Model):
    """Every vote ever cast, re-votes included. Never updated, never deleted.

    Its id is the watermark a clustering snapshot records: "includes every vote up to N".
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="vote_events"
    )
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="vote_events")
    value = models.SmallIntegerField(choices=VoteValue.choices)
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_VALUE_IN_RANGE, name="vote_event_value_in_range"),
        ]
        indexes = [models.Index(fields=["conversation", "id"])]

    def __str__(self) -> str:
        return f"event {self.pk}: {self.participant_id} voted {self.value} on {self.statement_id}"


class StatementTally(models.Model):
    """The live votes on one statement: agrees, disagrees and passes of the vote table.

    Kept by database triggers on the vote table (migration 0013_scale_statement_tallies), in
    the transaction of the write that changes a vote, whichever way it is written (the vote
    service, an import, a cascade): routing reads a conversation's tallies in one indexed
    scan that grows with its statements, not with its votes.
    """

    statement = models.OneToOneField(
        Statement, on_delete=models.CASCADE, primary_key=True, related_name="tally"
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    agree = models.IntegerField(default=0)
    disagree = models.IntegerField(default=0)
    passes = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["conversation"], name="tally_conversation")]

    def __str__(self) -> str:
        return f"statement {self.statement_id}: +{self.agree} -{self.disagree} ={self.passes}"


__all__ = ["REASON_MAX_LENGTH", "StatementTally", "Vote", "VoteEvent", "VoteValue"]
