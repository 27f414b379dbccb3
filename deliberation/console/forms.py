"""Console forms: they turn posted strings into typed values; the services judge them."""

from typing import Any

from django import forms

from deliberation.models import (
    AccessMode,
    AuditAction,
    Conversation,
    ModerationMode,
    ParticipantRequirement,
    ReportVisibility,
    StatementStatus,
    Visibility,
)
from deliberation.models.conversations import STATEMENT_MAX_LENGTH
from deliberation.selectors.moderation import QUEUE_FLAGS, QUEUE_KINDS
from deliberation.services.conversation_setup import ConversationSettings

_WHEN = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_WHEN_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class SettingsForm(forms.Form):
    topic = forms.CharField(required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    moderation_mode = forms.ChoiceField(choices=ModerationMode.choices)
    participants_can_add = forms.BooleanField(
        required=False, label="Participants may add statements"
    )
    is_open = forms.BooleanField(
        required=False, label="Open (switch off to close the conversation now)"
    )
    opens_at = forms.DateTimeField(
        required=False, widget=_WHEN, input_formats=_WHEN_FORMATS, label="Opens at (UTC)"
    )
    closes_at = forms.DateTimeField(
        required=False, widget=_WHEN, input_formats=_WHEN_FORMATS, label="Closes at (UTC)"
    )
    show_groups = forms.BooleanField(required=False, label="Participants see the opinion groups")
    visibility = forms.ChoiceField(choices=Visibility.choices)
    report_visibility = forms.ChoiceField(
        choices=ReportVisibility.choices, label="Public report visible to"
    )
    access_mode = forms.ChoiceField(choices=AccessMode.choices, label="Who may take part")

    @classmethod
    def for_conversation(cls, conversation: Conversation) -> "SettingsForm":
        return cls(
            initial={
                field: getattr(conversation, field)
                for field in ConversationSettings.__dataclass_fields__
            }
        )

    @classmethod
    def blank(cls) -> "SettingsForm":
        defaults = ConversationSettings(topic="")
        return cls(
            initial={field: getattr(defaults, field) for field in defaults.__dataclass_fields__}
        )

    def settings(self) -> ConversationSettings:
        return ConversationSettings(
            **{
                field: self.cleaned_data[field]
                for field in ConversationSettings.__dataclass_fields__
            }
        )


class SeedsForm(forms.Form):
    seeds = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="Seed statements, one per line",
        help_text=f"Each line becomes one statement of at most {STATEMENT_MAX_LENGTH} characters.",
    )


class NewConversationForm(SettingsForm, SeedsForm):
    pass


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *StatementStatus.choices], required=False
    )
    kind = forms.ChoiceField(
        choices=[("", "Any kind"), *[(kind, kind.title()) for kind in QUEUE_KINDS]],
        required=False,
    )
    q = forms.CharField(required=False, label="Text contains")
    flag = forms.ChoiceField(
        choices=[("", "Flagged or not"), *QUEUE_FLAGS.items()],
        required=False,
        label="AI flags",
    )

    def filters(self) -> dict[str, Any]:
        """The queue's filters; pending statements when nothing (or nothing valid) is chosen."""
        if not self.is_bound or not self.is_valid():
            return {"status": StatementStatus.PENDING, "kind": "", "text": "", "flag": ""}
        data = self.cleaned_data
        return {
            "status": data["status"],
            "kind": data["kind"],
            "text": data["q"],
            "flag": data["flag"],
        }


class DecisionForm(forms.Form):
    """The queue's decisions: a row's own button (``one=accept:12``) or the bulk bar."""

    ids = forms.MultipleChoiceField(required=False)
    decision = forms.CharField(required=False)
    one = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the service checks each belongs to the conversation.
        self.fields["ids"].valid_value = lambda value: True  # type: ignore[attr-defined]

    def decision_and_ids(self) -> tuple[str, list[str]]:
        data = self.cleaned_data if self.is_valid() else {}
        one = data.get("one") or ""
        if ":" in one:
            decision, _, statement_id = one.partition(":")
            return decision, [statement_id]
        return data.get("decision") or "", list(data.get("ids") or [])


class TextForm(forms.Form):
    text = forms.CharField(required=False, strip=False)


class FlagsForm(forms.Form):
    is_meta = forms.BooleanField(required=False, label="Meta (about the conversation itself)")
    is_seed = forms.BooleanField(required=False, label="Seed")


class ExclusionForm(forms.Form):
    excluded = forms.TypedChoiceField(
        choices=[("1", "exclude"), ("0", "reinstate")], coerce=lambda value: value == "1"
    )
    reason = forms.CharField(max_length=500, required=False)


class XidsForm(forms.Form):
    xids = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="External ids, one per line",
    )
    file = forms.FileField(required=False, label="…or upload a text or CSV file, one id per line")

    def text(self) -> str:
        """The pasted list, or the uploaded file's text when a file was sent."""
        upload = self.cleaned_data.get("file") if self.is_valid() else None
        if upload is not None:
            return upload.read().decode("utf-8-sig", errors="replace")
        return self.cleaned_data.get("xids", "") if self.is_valid() else ""


class AccessRulesForm(forms.Form):
    members_only = forms.BooleanField(
        required=False,
        label="Members only may read it (invite, signed and id-list access)",
    )
    participant_requirement = forms.ChoiceField(
        choices=ParticipantRequirement.choices, label="Each participant must also have"
    )


class EmailForm(forms.Form):
    email = forms.CharField(max_length=254)


class ModeratorForm(forms.Form):
    username = forms.CharField(max_length=150)
    moderates = forms.TypedChoiceField(
        choices=[("1", "add"), ("0", "remove")], coerce=lambda value: value == "1"
    )


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "Every action"), *AuditAction.choices], required=False)

    def action_value(self) -> str:
        return self.cleaned_data["action"] if self.is_valid() else ""
