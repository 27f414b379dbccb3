"""Rendering the report's body: once per snapshot and order, then from the cache.

The body is the same HTML for every reader (nothing in it depends on who asks), so it is
cached whole. The key holds the snapshot id, the table's order, the latest succeeded
snapshot id (the body says whether it shows the latest results) and a freshness token for
what can change after a snapshot (summaries, moderation, bridging outcomes).
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.template.loader import render_to_string

from deliberation.models import Conversation, Snapshot, TopicFit
from deliberation.report.process import process_context
from deliberation.report.svg import SeriesPoint, opinion_map_svg, time_series_svg
from deliberation.selectors.groups import snapshot_latest_id
from deliberation.selectors.report import (
    SENSITIVITY_TOP,
    SORTS,
    THRESHOLDS,
    ReportContext,
    report_build,
    report_conversation_get,
    report_freshness,
    report_is_indexable,
    report_snapshot_get,
    report_sort_clean,
)

CACHE_VERSION = 2
CACHE_SECONDS = 24 * 3600
# Bodies are a few hundred kilobytes and a busy conversation makes a snapshot every few
# seconds: only the bodies of its latest few snapshots are kept (at most KEEP_KEYS of them,
# over orders and freshness tokens); older ones are deleted when a newer one is cached.
KEEP_SNAPSHOTS = 3
KEEP_KEYS = 24


def report_charts(report: ReportContext) -> dict[str, str]:
    """The report's SVG charts, shared by the page and the PDF."""
    timeline = report.participation.timeline
    unit = timeline.unit
    return {
        "participants_chart": time_series_svg(
            [SeriesPoint(p.start, p.participants_so_far) for p in timeline.periods],
            title="Participants so far",
            description=f"Number of people who had voted, by {unit}.",
            kind="line",
        ),
        "votes_chart": time_series_svg(
            [SeriesPoint(p.start, p.votes) for p in timeline.periods],
            title=f"Votes per {unit}",
            description=f"Votes cast in each {unit}, changed votes included.",
            kind="bars",
        ),
        "opinion_map": opinion_map_svg(report.opinion_map),
    }


def report_body_html(report: ReportContext, *, for_pdf: bool = False) -> str:
    return render_to_string(
        "report/_body.html",
        {
            "report": report,
            "sorts": SORTS,
            "thresholds": THRESHOLDS,
            "for_pdf": for_pdf,
            "top_n": SENSITIVITY_TOP,
            **report_charts(report),
            **process_context(report),
        },
    )


def report_cache_key(
    *, snapshot: Snapshot, latest_id: int | None, sort: str, freshness: str
) -> str:
    # The snapshot's creation time keeps a recreated database (tests, a restored backup) from
    # serving another snapshot's report under a reused id.
    created = snapshot.created_at.timestamp()
    return f"report:v{CACHE_VERSION}:{snapshot.pk}:{created}:{latest_id or 0}:{sort}:{freshness}"


def report_body_cached(*, conversation: Conversation, snapshot: Snapshot, sort: str) -> str:
    """The report body for this snapshot and order, built at most once per cache lifetime."""
    key = report_cache_key(
        snapshot=snapshot,
        latest_id=snapshot_latest_id(conversation=conversation),
        sort=sort,
        freshness=report_freshness(conversation=conversation, snapshot=snapshot),
    )
    # Topics are refitted between snapshots: the last fit's time is part of the key.
    fitted = (
        TopicFit.objects.filter(conversation=conversation)
        .values_list("finished_at", flat=True)
        .first()
    )
    key += f":topics{fitted.timestamp() if fitted else 0}"
    body = cache.get(key)
    if body is None:
        body = report_body_html(
            report_build(conversation=conversation, snapshot=snapshot, sort=sort)
        )
        cache.set(key, body, CACHE_SECONDS)
        _cached_bodies_bound(conversation_id=conversation.pk, snapshot_id=snapshot.pk, key=key)
    return str(body)


def _cached_bodies_bound(*, conversation_id: int, snapshot_id: int, key: str) -> None:
    """Remember this body's key and delete the bodies of older snapshots.

    Race: two builders at once may each write the index without the other's key; that key
    is then only dropped by its expiry, so the bound can slip by a body, never grow.
    """
    index_key = f"report:v{CACHE_VERSION}:index:{conversation_id}"
    index: list[tuple[int, str]] = [*(cache.get(index_key) or []), (snapshot_id, key)]
    newest = sorted({sid for sid, _ in index}, reverse=True)[:KEEP_SNAPSHOTS]
    kept = [entry for entry in index if entry[0] in newest][-KEEP_KEYS:]
    cache.delete_many([k for entry in index if entry not in kept for k in [entry[1]]])
    cache.set(index_key, kept, CACHE_SECONDS)


def report_warm(*, snapshot_id: int) -> bool:
    """Build and cache the report readers will open first (the latest snapshot, default
    order), so no reader pays the cold build. False when the snapshot is no longer the
    latest succeeded one (a newer run will warm its own)."""
    snapshot = Snapshot.objects.select_related("conversation").filter(pk=snapshot_id).first()
    if snapshot is None or snapshot_latest_id(conversation=snapshot.conversation) != snapshot.pk:
        return False
    report_body_cached(
        conversation=snapshot.conversation, snapshot=snapshot, sort=report_sort_clean(None)
    )
    return True


@dataclass(frozen=True)
class ReportPage:
    conversation: Conversation
    snapshot: Snapshot | None
    """None: no results yet."""
    body: str
    indexable: bool


def report_page(
    *,
    slug: str,
    user: AbstractBaseUser | AnonymousUser | None,
    snapshot_id: object = None,
    sort: object = None,
) -> ReportPage:
    """The report page for this reader: visibility checked, snapshot chosen, body cached."""
    conversation = report_conversation_get(slug=slug, user=user)
    clean_sort = report_sort_clean(sort)
    snapshot = report_snapshot_get(conversation=conversation, snapshot_id=snapshot_id)
    body = (
        ""
        if snapshot is None
        else report_body_cached(conversation=conversation, snapshot=snapshot, sort=clean_sort)
    )
    return ReportPage(
        conversation=conversation,
        snapshot=snapshot,
        body=body,
        indexable=report_is_indexable(conversation=conversation),
    )
