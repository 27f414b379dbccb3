"""What the API reads and writes. Input serializers only shape requests: the rules a
statement or a vote must follow live in the services, so the API and the web UI refuse the
same things with the same words."""

from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from deliberation.models import Conversation, Statement, Vote, VoteValue
from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.models.votes import REASON_MAX_LENGTH
from deliberation.selectors.routing import Progress
from deliberation.services.statements import statement_clean_text


class ServiceJudgedTextField(serializers.CharField):
    """Text passed on as sent, even empty and untrimmed: its rules are the service's, which
    judge it with their own words; deliberation.api.schema states them in the schema.
    (Blank is let through here rather than with allow_blank, which would make the schema
    say less.)"""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        if data == "":
            return data
        return super().run_validation(data)


class StatementTextField(ServiceJudgedTextField):
    """A statement's text: statement_clean_text's rules."""


class FreeTextField(ServiceJudgedTextField):
    """Optional free text (a vote's reason): no control characters and at most
    ``schema_max_length`` characters once trimmed."""

    def __init__(self, *, schema_max_length: int | None = None, **kwargs: Any) -> None:
        self.schema_max_length = schema_max_length
        super().__init__(**kwargs)


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
    text = StatementTextField(
        help_text=f"1 to {STATEMENT_MAX_LENGTH} characters once composed (NFC) and trimmed, "
        "some of them visible, no control characters but tabs and newlines."
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
    reason = FreeTextField(
        required=False,
        default="",
        schema_max_length=REASON_MAX_LENGTH,
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
