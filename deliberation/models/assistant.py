"""The AI assistant's records: the ledger of every model call, and what came out of them.

The ledger (``AICall``) is the audit trail moderators and the public report read: which model
was asked what (by prompt version and input statement ids), what it answered, what it cost and
whether the answer was used. The other models keep the assistant's products (embeddings,
duplicate flags, bridging suggestions) tied back to the ledger entry that produced them.
"""

from django.conf import settings
from django.db import models

from deliberation.models.conversations import STATEMENT_MAX_LENGTH, Conversation, Statement
from deliberation.models.snapshots import Snapshot


class AIPurpose(models.TextChoices):
    SUMMARY = "summary", "Group summaries"
    VERIFY = "verify", "Summary verification"
    EMBEDDING = "embedding", "Embeddings"
    STANCE = "stance", "Stance check"
    BRIDGE = "bridge", "Bridging suggestions"
    CHAT = "chat", "Participant chat"
    MODERATION_FLAGS = "moderation_flags", "Moderation flags"
    TOPIC_NAMES = "topic_names", "Topic names"


class AIOutcome(models.TextChoices):
    OK = "ok", "Answered"
    CACHED = "cached", "Answered from the cache"
    ERROR = "error", "API error"
    TIMEOUT = "timeout", "Timed out"
    RATE_LIMITED = "rate_limited", "Rate limited"
    INVALID_OUTPUT = "invalid_output", "Output was not the requested JSON"
    GATE_FAILED = "gate_failed", "Output failed the gate"
    BUDGET_EXHAUSTED = "budget_exhausted", "Token budget exhausted"
    OFFLINE = "offline", "No endpoint configured: offline fallback"


class ModeratorDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    EDITED = "edited", "Approved after editing"
    REJECTED = "rejected", "Rejected"


class AICall(models.Model):
    """One attempt at one model call (a retry is a second row), or one offline fallback."""

    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="ai_calls"
    )
    purpose = models.CharField(max_length=20, choices=AIPurpose.choices)
    provider = models.CharField(max_length=20, help_text="'openai' or 'offline'.")
    model = models.CharField(max_length=200, blank=True, default="")
    prompt_version = models.CharField(max_length=40, blank=True, default="")
    input_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    input_statement_ids = models.JSONField(default=list)
    prompt = models.JSONField(
        default=list,
        blank=True,
        help_text="The messages sent, each cut to its first 20,000 characters; empty for "
        "embeddings and offline fallbacks.",
    )
    output = models.TextField(
        blank=True, default="", help_text="The model's whole answer (the cache serves it)."
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=20, choices=AIOutcome.choices)
    detail = models.TextField(
        blank=True, default="", help_text="The error, or the gate's reasons for refusing."
    )
    decision = models.CharField(
        max_length=10, choices=ModeratorDecision.choices, blank=True, default=""
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["conversation", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} via {self.provider}: {self.outcome}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class StatementEmbedding(models.Model):
    """A statement's embedding by one model, stored once (float32 bytes).

    ``text_hash`` is the hash of the text that was embedded, so an edited statement is
    re-embedded instead of compared by its old meaning.
    """

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(max_length=200)
    text_hash = models.CharField(max_length=64)
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Race: two requests embedding the same statement at once; the writes use
            # ON CONFLICT DO NOTHING so the second one is dropped, not an error.
            models.UniqueConstraint(fields=["statement", "model"], name="embedding_unique")
        ]

    def __str__(self) -> str:
        return f"embedding of {self.statement_id} by {self.model}"


class DuplicateTier(models.TextChoices):
    DUPLICATE = "duplicate", "Near-certain duplicate"
    PROBABLE = "probable", "Probable duplicate"
    RELATED = "related", "Related"
    NONE = "none", "Unrelated"


class Stance(models.TextChoices):
    SAME = "same", "Makes the same claim"
    OPPOSITE = "opposite", "Makes the opposite claim"
    DIFFERENT = "different", "Makes a different claim"
    UNCHECKED = "unchecked", "Not checked"


class DuplicateFlag(models.Model):
    """A submitted statement that resembles an existing one, for the moderation queue."""

    statement = models.ForeignKey(
        Statement, on_delete=models.CASCADE, related_name="duplicate_flags"
    )
    similar_to = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="+")
    tier = models.CharField(max_length=10, choices=DuplicateTier.choices)
    score = models.FloatField()
    stance = models.CharField(max_length=10, choices=Stance.choices, default=Stance.UNCHECKED)
    method = models.CharField(
        max_length=20,
        help_text="Vectors and stance judge: 'local+rules', 'endpoint+llm'... ('offline' or "
        "'embedding' before the local model).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "similar_to"], name="duplicate_flag_pair")
        ]

    def __str__(self) -> str:
        return f"{self.statement_id} ~ {self.similar_to_id}: {self.tier}"

    @property
    def judged_by_label(self) -> str:
        """Who judged: "AI" only when the chat model checked the stance (``method`` ends in
        ``+llm``); the local model and rules otherwise (``local+rules``, older ``offline``)."""
        return "AI" if self.method.endswith("+llm") else "Local model and rules"


class SummarySource(models.TextChoices):
    LLM = "llm", "Written by the model, checked by the gate"
    EXTRACTIVE = "extractive", "The statements that define each group"


class SnapshotSummary(models.Model):
    """The group summaries and overview of one snapshot, as shown to people.

    ``groups`` is a list of ``{"id", "label", "source", "sentences": [{"text", "stance",
    "citations"}]}`` (citations are statement display ids); ``overview`` is ``{"source",
    "sentences"}``. Only output that passed the gate, or the extractive fallback, is stored.
    """

    snapshot = models.OneToOneField(Snapshot, on_delete=models.CASCADE, related_name="ai_summary")
    groups = models.JSONField(default=list)
    overview = models.JSONField(default=dict)
    limitations = models.JSONField(default=list)
    ai_call = models.ForeignKey(
        AICall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"summary of snapshot {self.snapshot_id}"


class SuggestionStatus(models.TextChoices):
    PROPOSED = "proposed", "Waiting for a moderator"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class BridgingSuggestion(models.Model):
    """A statement the assistant drafted to bridge the groups, with its forecast.

    ``forecast`` maps each group id to the predicted agreement p_hat_g; once the approved
    statement has votes, ``realised`` holds the real p_g beside it (metrics.md, "Forecasting
    a new statement").
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="bridging_suggestions"
    )
    snapshot = models.ForeignKey(
        Snapshot,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The snapshot whose groups the forecast is for.",
    )
    text = models.CharField(max_length=STATEMENT_MAX_LENGTH)
    original_text = models.CharField(
        max_length=STATEMENT_MAX_LENGTH, help_text="The text as the assistant drafted it."
    )
    rationale = models.TextField(blank=True, default="")
    source = models.CharField(max_length=20, help_text="'llm' or 'offline'.")
    based_on = models.JSONField(default=list, help_text="Statement ids it was drafted from.")
    forecast = models.JSONField(default=dict)
    forecast_bridging = models.FloatField(
        null=True,
        blank=True,
        help_text="The lower bound of the smallest group's forecast; null: no forecast.",
    )
    status = models.CharField(
        max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PROPOSED
    )
    ai_call = models.ForeignKey(
        AICall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    statement = models.OneToOneField(
        Statement,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bridging_suggestion",
    )
    realised = models.JSONField(default=dict, blank=True)
    realised_votes = models.PositiveIntegerField(default=0)
    forecast_error = models.FloatField(
        null=True, blank=True, help_text="Mean absolute error of the forecast over groups."
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # A suggestion with no forecast goes last (PostgreSQL sorts NULL first descending).
        ordering = [models.F("forecast_bridging").desc(nulls_last=True), "id"]
        indexes = [models.Index(fields=["conversation", "status"])]

    def __str__(self) -> str:
        return self.text[:80]


class ModerationFlagKind(models.TextChoices):
    OFF_TOPIC = "off_topic", "Off-topic"
    ABUSIVE = "abusive", "Abusive"
    SPAM = "spam", "Spam"


class FlagSource(models.TextChoices):
    LLM = "llm", "AI model"
    HEURISTIC = "heuristic", "Heuristic"


class ScreeningState(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Being screened"
    DONE = "done", "Screened"


class ModerationScreening(models.Model):
    """The advisory screening of one participant's statement, and where its job stands.

    Created with the statement; the worker claims it (queued, or running with a stale claim)
    and marks it done with the flags it raised. ``limitations`` says what the screening could
    not judge (offline, abuse is not judged at all). It never changes the statement's status.
    """

    statement = models.OneToOneField(
        Statement, on_delete=models.CASCADE, related_name="moderation_screening"
    )
    state = models.CharField(
        max_length=10, choices=ScreeningState.choices, default=ScreeningState.QUEUED
    )
    source = models.CharField(max_length=10, choices=FlagSource.choices, blank=True, default="")
    limitations = models.JSONField(default=list, blank=True)
    attempt = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ai_call = models.ForeignKey(
        AICall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"screening of {self.statement_id}: {self.state}"


class ModerationFlag(models.Model):
    """An advisory concern about a statement (off-topic, abusive, spam) for the moderators:
    a human decides, the flag never changes the statement."""

    statement = models.ForeignKey(
        Statement, on_delete=models.CASCADE, related_name="moderation_flags"
    )
    kind = models.CharField(max_length=10, choices=ModerationFlagKind.choices)
    reason = models.CharField(max_length=300)
    confidence = models.FloatField()
    source = models.CharField(max_length=10, choices=FlagSource.choices)
    ai_call = models.ForeignKey(
        AICall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confidence"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "kind"], name="moderation_flag_kind"),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0) & models.Q(confidence__lte=1),
                name="moderation_flag_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statement_id}: {self.kind} ({self.confidence:.2f}, {self.source})"


__all__ = [
    "AICall",
    "AIOutcome",
    "AIPurpose",
    "BridgingSuggestion",
    "DuplicateFlag",
    "DuplicateTier",
    "FlagSource",
    "ModerationFlag",
    "ModerationFlagKind",
    "ModerationScreening",
    "ModeratorDecision",
    "ScreeningState",
    "SnapshotSummary",
    "Stance",
    "StatementEmbedding",
    "SuggestionStatus",
    "SummarySource",
]
