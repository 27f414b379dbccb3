"""What the API reads and writes. Input serializers only shape requests: the rules a
statement or a vote must follow live in the services, so the API and the web UI refuse the
same things with the same words."""

from typing import Any

from rest_framework import serializers

from deliberation.models import Conversation, Statement, Vote, VoteValue
from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.models.votes import REASON_MAX_LENGTH
from deliberation.selectors.routing import Progress
from deliberation.services.statements import statement_clean_text


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    class Meta:
        model = Conversation
        fields = [
            "slug",
            "topic",
            "description",
            "moderation_mode",
            "participants_can_add",
            "is_open",
            "opens_at",
            "closes_at",
            "visibility",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer[Statement]):
    class Meta:
        model = Statement
        fields = ["id", "external_id", "text", "status", "is_seed", "is_meta", "created_at"]
        read_only_fields = fields


class StatementWithTalliesSerializer(StatementSerializer):
    agrees = serializers.IntegerField(read_only=True, source="n_agree")
    disagrees = serializers.IntegerField(read_only=True, source="n_disagree")
    passes = serializers.IntegerField(read_only=True, source="n_pass")

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "agrees", "disagrees", "passes"]
        read_only_fields = fields


class StatementCreateSerializer(serializers.Serializer[None]):
    # Blank and untrimmed on purpose: the service's own rule judges the text, with its words.
    text = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"1 to {STATEMENT_MAX_LENGTH} characters once trimmed.",
    )

    confirmed = serializers.BooleanField(
        default=False,
        help_text=(
            "Set after a near_duplicate_statement refusal when the author confirms their "
            "statement says something different."
        ),
    )

    def validate_text(self, text: str) -> str:
        # Judged here too, before the view makes the caller a participant: bad text must
        # leave no trace, not even a participant row.
        return statement_clean_text(text)


class VoteCastSerializer(serializers.Serializer[None]):
    # Bounded to the id column's range: a larger number would fail in the database rather
    # than get a clear answer.
    statement = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The id of an accepted statement."
    )
    value = serializers.ChoiceField(
        choices=VoteValue.choices,
        help_text="1 agree, -1 disagree, 0 pass.",
        error_messages={
            "invalid_choice": "A vote is 1 (agree), -1 (disagree) or 0 (pass), not {input}."
        },
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=f"Why I voted this way (optional, at most {REASON_MAX_LENGTH} characters).",
    )


class VoteSerializer(serializers.ModelSerializer[Vote]):
    class Meta:
        model = Vote
        fields = ["statement", "value", "reason", "updated_at"]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer[Progress]):
    voted = serializers.IntegerField(help_text="Accepted statements this participant voted on.")
    available = serializers.IntegerField(help_text="Accepted statements in the conversation.")
    remaining = serializers.IntegerField()


class NextStatementSerializer(serializers.Serializer[dict[str, Any]]):
    statement = StatementSerializer(
        allow_null=True, help_text="The statement to vote on next; null when all are voted."
    )
    done = serializers.BooleanField(help_text="True once every accepted statement is voted.")
    progress = ProgressSerializer()


class VoteCastResultSerializer(VoteSerializer):
    next = NextStatementSerializer(
        read_only=True, help_text="The caller's next card, so voting takes one request a vote."
    )

    class Meta(VoteSerializer.Meta):
        fields = [*VoteSerializer.Meta.fields, "next"]
        read_only_fields = fields
