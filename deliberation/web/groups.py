"""The opinion groups for participants: a page, and the panel the conversation page embeds.

The panel polls ``panel/?known=<snapshot id>`` every few seconds; the answer is an empty 204
while the latest snapshot is still the one shown, and the fresh panel once a new one lands.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from deliberation.errors import AgoraError, NotFound, PermissionDenied
from deliberation.identity import request_participant, request_read_require
from deliberation.models import Conversation
from deliberation.selectors.conversations import conversation_get
from deliberation.selectors.groups import (
    groups_view,
    opinion_map,
    participant_position,
    snapshot_latest_for_viewer,
    snapshot_latest_id,
)

POLL_SECONDS = 5


def _panel_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    context: dict[str, Any] = {"conversation": conversation, "poll_seconds": POLL_SECONDS}
    try:
        snapshot = snapshot_latest_for_viewer(conversation=conversation, user=request.user)
    except PermissionDenied as error:
        return context | {"hidden": error.message}
    except NotFound as error:
        return context | {"waiting": error.message}
    participant = request_participant(request, conversation, create=False)
    view = groups_view(snapshot=snapshot)
    position = participant_position(view=view, participant=participant) if participant else None
    agreed = sum(c.agrees_with_group for c in position.comparisons) if position is not None else 0
    group_map = opinion_map(snapshot=snapshot, participant=participant)
    return context | {
        "snapshot": snapshot,
        "view": view,
        "map": group_map,
        "position": position,
        "agreed_with_group": agreed,
    }


@require_GET
def groups_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        conversation = request_read_require(request, conversation_get(slug=slug, user=request.user))
    except AgoraError as error:
        return render(request, "error.html", {"error": error}, status=error.status_code)
    return render(request, "groups/page.html", _panel_context(request, conversation))


@require_GET
def groups_panel(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        conversation = request_read_require(request, conversation_get(slug=slug, user=request.user))
    except AgoraError as error:
        return render(request, "error.html", {"error": error}, status=error.status_code)
    known = request.GET.get("known", "")
    if known and known == str(snapshot_latest_id(conversation=conversation) or ""):
        return HttpResponse(status=204)
    return render(request, "groups/_panel.html", _panel_context(request, conversation))


urlpatterns = [
    path("", groups_page, name="groups"),
    path("panel/", groups_panel, name="groups_panel"),
]
