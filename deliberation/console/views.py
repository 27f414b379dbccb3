"""The moderator console: thin views over the moderation selectors and services.

Every console URL names its conversation by slug and looks it up through
``conversation_get_for_moderator``, so a conversation this user does not run is a 404 on
every page and every action. Services authorise again before they write. Refusals are shown
next to the form that caused them, with what was typed still in it; one-click actions
report through messages and go back where they came from.
"""

import csv
import json
import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import wraps
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliberation.console.charts import activity_charts
from deliberation.console.forms import (
    AccessRulesForm,
    AuditFilterForm,
    DecisionForm,
    EmailForm,
    ExclusionForm,
    FlagsForm,
    ModeratorForm,
    NewConversationForm,
    QueueFilterForm,
    SeedsForm,
    SettingsForm,
    TextForm,
    XidsForm,
)
from deliberation.errors import AgoraError
from deliberation.models import MEMBER_ACCESS_MODES, AccessMode, Conversation, StatementStatus
from deliberation.report.process import process_charts_latest
from deliberation.selectors.conversations import conversation_get
from deliberation.selectors.groups import snapshot_failure_latest, snapshot_latest_id
from deliberation.selectors.moderation import (
    audit_log,
    conversation_activity,
    conversation_get_for_moderator,
    conversation_list_for_moderator,
    participant_get_for_moderator,
    participant_list_for_moderator,
    rate_limit_hits,
    statement_get_for_moderator,
    statement_history,
    statement_queue,
    statement_resemblances,
    vote_bursts,
)
from deliberation.selectors.topics import topics_for_console
from deliberation.services import conversation_setup, moderation
from deliberation.services import topics as topics_service
from deliberation.services.access import (
    invite_token_make,
    invite_token_read,
    xid_link_check,
    xid_signature,
)
from deliberation.services.participants import (
    email_link_conversation,
    email_link_send,
    participant_join_invited,
    participant_join_with_xid,
    participant_verify_email,
)
from deliberation.services.ratelimits import ratelimit_settings
from deliberation.services.report_export import FORMATS as REPORT_FORMATS

P = ParamSpec("P")
PAGE_SIZE = 25
# The admin's login (settings.LOGIN_URL) admits staff only; moderators log in here.
moderator_login_required = login_required(login_url="console:login")

# Include points: templates other parts of Agora provide for the console. Each is rendered
# when it exists, with ``conversation`` (and ``statement`` for per-statement flags) in its
# context; until it exists, the console simply has no such panel.
ASSISTANT_LEDGER_TEMPLATE = "assistant/console_ledger.html"
ASSISTANT_FLAGS_TEMPLATE = "assistant/console_flags.html"
GROUPS_PANEL_TEMPLATE = "groups/_slot.html"


def _optional_template(name: str) -> str | None:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


def _refused(request: HttpRequest, error: AgoraError) -> HttpResponse:
    return render(request, "console/error.html", {"error": error}, status=error.status_code)


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes' answer to a console or admin login it has locked out: the login page
    again, saying why and for how long, as a 429 with Retry-After."""
    cool_off = get_cool_off(request) or timedelta(0)
    response = render(
        request,
        "console/login.html",
        {
            "form": AuthenticationForm(request),
            "next": request.POST.get("next", ""),
            "locked_out_minutes": max(1, math.ceil(cool_off.total_seconds() / 60)),
        },
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


def console_view(
    view: Callable[Concatenate[HttpRequest, Conversation, P], HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """A console page of one conversation: logged in, and one of its moderators (else 404)."""

    @moderator_login_required
    @wraps(view)
    def wrapped(
        request: HttpRequest, slug: str, *args: P.args, **kwargs: P.kwargs
    ) -> HttpResponseBase:
        try:
            conversation = conversation_get_for_moderator(slug=slug, user=request.user)
            return view(request, conversation, *args, **kwargs)
        except AgoraError as error:
            return _refused(request, error)

    return wrapped


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the page the action was posted from, if it is one of ours."""
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/console/") else fallback)


def _act(request: HttpRequest, fallback: str, action: Callable[[], str]) -> HttpResponse:
    """Run a one-click action: its message on success, the refusal's message otherwise."""
    try:
        messages.success(request, action())
    except AgoraError as error:
        messages.error(request, error.message)
    return _back(request, fallback)


def _page(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


# --- conversations ---------------------------------------------------------------------


@require_GET
@moderator_login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    conversations = conversation_list_for_moderator(user=request.user)
    return render(request, "console/list.html", {"page": _page(request, conversations)})


@require_http_methods(["GET", "POST"])
@moderator_login_required
def conversation_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "console/new.html", {"form": NewConversationForm.blank()})
    form = NewConversationForm(request.POST)
    if form.is_valid():
        try:
            conversation = conversation_setup.conversation_create(
                actor=request.user, settings=form.settings(), seeds=form.cleaned_data["seeds"]
            )
        except AgoraError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Conversation created.")
            return redirect("console:dashboard", slug=conversation.slug)
    return render(request, "console/new.html", {"form": form}, status=400)


@require_GET
@console_view
def dashboard(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    snapshot_id = snapshot_latest_id(conversation=conversation)
    return render(
        request,
        "console/dashboard.html",
        {
            "conversation": conversation,
            "section": "dashboard",
            "charts": activity_charts(conversation_activity(conversation=conversation)),
            "process_charts": process_charts_latest(conversation=conversation),
            "pending": statement_queue(conversation=conversation).count(),
            "bursts": len(vote_bursts(conversation=conversation)),
            "rate_limited": rate_limit_hits(conversation=conversation).count(),
            "snapshot_id": snapshot_id,
            "failed_run": snapshot_failure_latest(conversation=conversation),
            "report_formats": list(REPORT_FORMATS),
            "groups_panel": _optional_template(GROUPS_PANEL_TEMPLATE),
            "assistant_ledger": _optional_template(ASSISTANT_LEDGER_TEMPLATE),
            "topics": topics_for_console(conversation=conversation),
        },
    )


@require_POST
@console_view
def recompute(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    def run() -> str:
        moderation.conversation_recompute_request(actor=request.user, conversation=conversation)
        return "Recompute scheduled: the groups update when it finishes."

    return _act(request, reverse("console:dashboard", args=[conversation.slug]), run)


@require_POST
@console_view
def topic_rename(request: HttpRequest, conversation: Conversation, number: int) -> HttpResponse:
    def run() -> str:
        topic = topics_service.topic_rename(
            actor=request.user,
            conversation=conversation,
            number=number,
            name=request.POST.get("name", ""),
        )
        return f"Topic renamed to “{topic.name}”; the name is kept across recomputes."

    return _act(request, reverse("console:dashboard", args=[conversation.slug]), run)


@require_http_methods(["GET", "POST"])
@console_view
def settings(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    form = SettingsForm.for_conversation(conversation)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                conversation_setup.conversation_update(
                    actor=request.user, conversation=conversation, settings=form.settings()
                )
            except AgoraError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "Settings saved.")
                return redirect("console:settings", slug=conversation.slug)
    return _settings_page(request, conversation, form, SeedsForm())


def _settings_page(
    request: HttpRequest, conversation: Conversation, form: SettingsForm, seeds: SeedsForm
) -> HttpResponse:
    status = 400 if form.errors or seeds.errors else 200
    window, limits = ratelimit_settings()
    return render(
        request,
        "console/settings.html",
        {
            "conversation": conversation,
            "section": "settings",
            "form": form,
            "seeds_form": seeds,
            "rate_limit_window": window,
            "rate_limits": limits,
        },
        status=status,
    )


@require_POST
@console_view
def seeds(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    form = SeedsForm(request.POST)
    if form.is_valid():
        try:
            added = conversation_setup.conversation_seed(
                actor=request.user, conversation=conversation, seeds=form.cleaned_data["seeds"]
            )
        except AgoraError as error:
            form.add_error("seeds", error.message)
        else:
            messages.success(request, f"{len(added)} seed statement(s) added.")
            return redirect("console:settings", slug=conversation.slug)
    return _settings_page(request, conversation, SettingsForm.for_conversation(conversation), form)


# --- access ----------------------------------------------------------------------------


@require_GET
@console_view
def access(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    return _access_page(request, conversation, XidsForm())


def _access_page(
    request: HttpRequest,
    conversation: Conversation,
    xids_form: XidsForm,
    *,
    rules_form: AccessRulesForm | None = None,
    new_secret: str = "",
) -> HttpResponse:
    invite_url = request.build_absolute_uri(
        reverse("console:join_invite", args=[invite_token_make(conversation=conversation)])
    )
    xid_url = request.build_absolute_uri(reverse("console:join_xid", args=[conversation.slug]))
    rules_form = rules_form or AccessRulesForm(
        initial={
            "members_only": conversation.members_only,
            "participant_requirement": conversation.participant_requirement,
        }
    )
    response = render(
        request,
        "console/access.html",
        {
            "conversation": conversation,
            "section": "access",
            "access_modes": AccessMode,
            "member_modes": MEMBER_ACCESS_MODES,
            "invite_url": invite_url,
            "xid_url": xid_url,
            "new_secret": new_secret,
            "rules_form": rules_form,
            "xids_count": conversation.allowed_xids.count(),
            "xids_form": xids_form,
            "moderator_form": ModeratorForm(),
            "moderators": conversation.moderators.order_by("username"),
        },
        status=400 if xids_form.errors or rules_form.errors else 200,
    )
    if new_secret:
        # The secret is on this page only: no cache, no history may keep it.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@console_view
def access_rules(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    form = AccessRulesForm(request.POST)
    if form.is_valid():
        try:
            conversation_setup.conversation_access_set(
                actor=request.user, conversation=conversation, **form.cleaned_data
            )
        except AgoraError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Access rules saved.")
            return redirect("console:access", slug=conversation.slug)
    return _access_page(request, conversation, XidsForm(), rules_form=form)


@require_POST
@console_view
def access_xid_secret(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    """Make a new signing secret and show it, this once (it is never shown again)."""
    try:
        secret = conversation_setup.conversation_xid_secret_rotate(
            actor=request.user, conversation=conversation
        )
    except AgoraError as error:
        return _refused(request, error)
    return _access_page(request, conversation, XidsForm(), new_secret=secret)


@require_GET
@console_view
def access_xid_links(request: HttpRequest, conversation: Conversation) -> StreamingHttpResponse:
    """Every listed member's personal link, as CSV, to mail-merge and send to each of them."""
    base = request.build_absolute_uri(reverse("console:join_xid", args=[conversation.slug]))
    xids = conversation.allowed_xids.order_by("xid").values_list("xid", flat=True)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(["xid", "link"])
        for xid in xids.iterator():
            query = urlencode(
                {"xid": xid, "sig": xid_signature(conversation=conversation, xid=xid)}
            )
            yield writer.writerow([xid, f"{base}?{query}"])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{conversation.slug}-links.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@console_view
def access_xids(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    form = XidsForm(request.POST, request.FILES)
    try:
        parsed = conversation_setup.conversation_xids_replace(
            actor=request.user, conversation=conversation, xids=form.text()
        )
    except AgoraError as error:
        form.add_error("xids", error.message)
        return _access_page(request, conversation, form)
    messages.success(request, f"The list now holds {len(parsed)} external id(s).")
    return redirect("console:access", slug=conversation.slug)


@require_POST
@console_view
def access_invite_reset(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    def run() -> str:
        conversation_setup.conversation_invite_reset(actor=request.user, conversation=conversation)
        return "New invite link made: the old links no longer work."

    return _act(request, reverse("console:access", args=[conversation.slug]), run)


@require_POST
@console_view
def moderators(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    form = ModeratorForm(request.POST)

    def run() -> str:
        if not form.is_valid():
            return "Give a username."
        user = conversation_setup.conversation_moderator_set(
            actor=request.user, conversation=conversation, **form.cleaned_data
        )
        verb = "now moderates" if form.cleaned_data["moderates"] else "no longer moderates"
        return f"{user.username} {verb} this conversation."

    return _act(request, reverse("console:access", args=[conversation.slug]), run)


# --- the moderation queue and statements -----------------------------------------------


@require_GET
@console_view
def queue(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    filters = QueueFilterForm(request.GET or None)
    page = _page(request, statement_queue(conversation=conversation, **filters.filters()))
    pending = [s for s in page.object_list if s.status == StatementStatus.PENDING]
    resemblances = statement_resemblances(conversation=conversation, statements=pending)
    return render(
        request,
        "console/queue.html",
        {
            "conversation": conversation,
            "section": "queue",
            "filters": filters,
            "page": page,
            "rows": [(s, resemblances.get(s.pk, [])) for s in page.object_list],
            "assistant_flags": _optional_template(ASSISTANT_FLAGS_TEMPLATE),
        },
    )


@require_POST
@console_view
def decide(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    decision, ids = DecisionForm(request.POST).decision_and_ids()

    def run() -> str:
        decided = moderation.statement_decide_many(
            actor=request.user, conversation=conversation, statement_ids=ids, decision=decision
        )
        return f"{len(decided)} statement(s) {decision}ed."

    return _act(request, reverse("console:queue", args=[conversation.slug]), run)


@require_GET
@console_view
def statement(request: HttpRequest, conversation: Conversation, statement_id: int) -> HttpResponse:
    found = statement_get_for_moderator(conversation=conversation, statement_id=statement_id)
    return _statement_page(request, conversation, found, TextForm(initial={"text": found.text}))


def _statement_page(
    request: HttpRequest, conversation: Conversation, found: Any, text_form: TextForm
) -> HttpResponse:
    return render(
        request,
        "console/statement.html",
        {
            "conversation": conversation,
            "section": "queue",
            "statement": found,
            "text_form": text_form,
            "flags_form": FlagsForm(initial={"is_meta": found.is_meta, "is_seed": found.is_seed}),
            "history": statement_history(statement=found),
            "resemblances": statement_resemblances(
                conversation=conversation, statements=[found]
            ).get(found.pk, []),
        },
        status=400 if text_form.errors else 200,
    )


@require_POST
@console_view
def statement_text(
    request: HttpRequest, conversation: Conversation, statement_id: int
) -> HttpResponse:
    found = statement_get_for_moderator(conversation=conversation, statement_id=statement_id)
    form = TextForm(request.POST)
    text = form.cleaned_data["text"] if form.is_valid() else ""
    try:
        moderation.statement_text_correct(actor=request.user, statement=found, text=text)
    except AgoraError as error:
        form.add_error("text", error.message)
        return _statement_page(request, conversation, found, form)
    messages.success(request, "Text corrected; the original is kept in the history below.")
    return redirect("console:statement", slug=conversation.slug, statement_id=found.pk)


@require_POST
@console_view
def statement_flags(
    request: HttpRequest, conversation: Conversation, statement_id: int
) -> HttpResponse:
    found = statement_get_for_moderator(conversation=conversation, statement_id=statement_id)
    form = FlagsForm(request.POST)
    form.is_valid()

    def run() -> str:
        moderation.statement_flags_set(
            actor=request.user,
            statement=found,
            is_meta=form.cleaned_data["is_meta"],
            is_seed=form.cleaned_data["is_seed"],
        )
        return "Marks saved."

    return _act(request, reverse("console:statement", args=[conversation.slug, found.pk]), run)


# --- participants and abuse signals ----------------------------------------------------


@require_GET
@console_view
def participants(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    show = request.GET.get("show", "")
    excluded = {"excluded": True, "active": False}.get(show)
    listed = participant_list_for_moderator(conversation=conversation, excluded=excluded)
    return render(
        request,
        "console/participants.html",
        {
            "conversation": conversation,
            "section": "participants",
            "show": show,
            "page": _page(request, listed),
        },
    )


@require_POST
@console_view
def participant_exclusion(
    request: HttpRequest, conversation: Conversation, participant_id: int
) -> HttpResponse:
    found = participant_get_for_moderator(conversation=conversation, participant_id=participant_id)
    form = ExclusionForm(request.POST)

    def run() -> str:
        if not form.is_valid():
            return "Choose exclude or reinstate."
        moderation.participant_exclusion_set(
            actor=request.user, participant=found, **form.cleaned_data
        )
        if form.cleaned_data["excluded"]:
            return f"Participant {found.pk} excluded: their votes leave the groups."
        return f"Participant {found.pk} reinstated: their votes count again."

    return _act(request, reverse("console:participants", args=[conversation.slug]), run)


@require_GET
@console_view
def signals(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    return render(
        request,
        "console/signals.html",
        {
            "conversation": conversation,
            "section": "signals",
            "bursts": vote_bursts(conversation=conversation),
            "hits": _page(request, rate_limit_hits(conversation=conversation)),
        },
    )


# --- the audit log ---------------------------------------------------------------------


@require_GET
@console_view
def audit(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    filters = AuditFilterForm(request.GET or None)
    entries = audit_log(conversation=conversation, action=filters.action_value())
    return render(
        request,
        "console/audit.html",
        {
            "conversation": conversation,
            "section": "audit",
            "filters": filters,
            "page": _page(request, entries),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@console_view
def audit_csv(request: HttpRequest, conversation: Conversation) -> StreamingHttpResponse:
    entries = audit_log(conversation=conversation).order_by("created_at", "id")
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(
            ["created_at", "moderator", "action", "target_type", "target_id", "before", "after"]
        )
        for entry in entries.iterator():
            yield writer.writerow(
                [
                    entry.created_at.isoformat(),
                    entry.actor_username,
                    entry.action,
                    entry.target_type,
                    entry.target_id if entry.target_id is not None else "",
                    json.dumps(entry.before, sort_keys=True) if entry.before is not None else "",
                    json.dumps(entry.after, sort_keys=True) if entry.after is not None else "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{conversation.slug}-audit.csv"'
    return response


# --- joining a restricted conversation (participants, no login) ------------------------


def _session_key(request: HttpRequest) -> str:
    if request.session.session_key is None:
        request.session.save()
    return request.session.session_key or ""


@require_http_methods(["GET", "POST"])
def join_invite(request: HttpRequest, token: str) -> HttpResponse:
    """An invite link: a page that says where it leads, and a button that takes part."""
    try:
        if request.method == "GET":
            conversation = invite_token_read(token=token)
            return render(request, "console/join.html", {"conversation": conversation})
        participant = participant_join_invited(
            token=token, session_key=_session_key(request), user=request.user
        )
    except AgoraError as error:
        return _refused(request, error)
    return redirect("web:conversation", slug=participant.conversation.slug)


@require_http_methods(["GET", "POST"])
def join_xid(request: HttpRequest, slug: str) -> HttpResponse:
    """A signed external-id link: ``/console/join/<slug>/?xid=<id>&sig=<HMAC>``.

    The organisation's site signs it (see the console's access page) or the console makes
    it (personal links). GET shows where it leads, if it is genuine; POST takes part.
    """
    xid = (request.GET.get("xid") or request.POST.get("xid") or "").strip()
    signature = request.GET.get("sig") or request.POST.get("sig") or ""
    try:
        conversation = conversation_get(slug=slug, user=request.user)
        if request.method == "GET":
            xid_link_check(conversation=conversation, xid=xid, signature=signature)
            context = {"conversation": conversation, "xid": xid, "sig": signature}
            return render(request, "console/join.html", context)
        participant_join_with_xid(
            conversation=conversation,
            xid=xid,
            signature=signature,
            session_key=_session_key(request),
            user=request.user,
        )
    except AgoraError as error:
        return _refused(request, error)
    return redirect("web:conversation", slug=conversation.slug)


@require_POST
def email_link_request(request: HttpRequest, slug: str) -> HttpResponse:
    """Mail a one-time link to the address given, for conversations that require one."""
    form = EmailForm(request.POST)
    try:
        conversation = conversation_get(slug=slug, user=request.user)
        email_link_send(
            conversation=conversation,
            email=form.cleaned_data["email"] if form.is_valid() else "",
            url_for=lambda token: request.build_absolute_uri(
                reverse("console:verify_email", args=[token])
            ),
        )
    except AgoraError as error:
        return _refused(request, error)
    return render(request, "console/email_sent.html", {"conversation": conversation})


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """An emailed link. GET only asks to confirm: mail scanners open links, and must not
    use them up; the button's POST verifies and takes part."""
    try:
        if request.method == "GET":
            conversation = email_link_conversation(token=token)
            context = {"conversation": conversation, "verifying": True}
            return render(request, "console/join.html", context)
        participant = participant_verify_email(
            token=token, session_key=_session_key(request), user=request.user
        )
    except AgoraError as error:
        return _refused(request, error)
    return redirect("web:conversation", slug=participant.conversation.slug)
