"""Scheduling clustering runs: coalescing triggers, catching up, and reaping lost runs.

Every write that changes the math (a vote, a new or moderated statement, an excluded
participant) calls :func:`recompute_schedule`. After the write commits, a queued snapshot is
created unless one is already waiting: at most one queued and one running snapshot exist per
conversation, so a burst of votes collapses into a few runs. A run reads the newest votes
when it starts, so the waiting run includes every vote committed before it starts.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from deliberation.models import Conversation, Snapshot, SnapshotStatus, VoteEvent

logger = logging.getLogger(__name__)


def recompute_schedule(*, conversation_id: int) -> None:
    """Schedule a recompute of this conversation's groups once the current transaction commits.

    Call it inside the transaction that changed the votes, statements or participants: if that
    transaction rolls back, nothing is scheduled. A failure to schedule is logged and never
    breaks the caller's request; the periodic catch-up task schedules the run later.
    """
    transaction.on_commit(partial(snapshot_queue, conversation_id=conversation_id), robust=True)


def recompute_retry_at(*, conversation_id: int) -> datetime | None:
    """When a conversation whose runs keep failing may run again; None if it may now.

    The first failure is retried by the next trigger, as a passing glitch would be; from the
    second consecutive failure on, each wait doubles from ``RETRY_BACKOFF_S`` up to
    ``RETRY_BACKOFF_MAX_S``, so a run that can never succeed (a bug, a poisoned matrix) does
    not burn a worker every sweep or on every vote.
    """
    base_s = settings.AGORA_RECLUSTER["RETRY_BACKOFF_S"]
    cap_s = settings.AGORA_RECLUSTER["RETRY_BACKOFF_MAX_S"]
    last_success = (
        Snapshot.objects.filter(conversation_id=conversation_id, status=SnapshotStatus.SUCCEEDED)
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )
    failures = Snapshot.objects.filter(
        conversation_id=conversation_id, status=SnapshotStatus.FAILED, pk__gt=last_success or 0
    ).aggregate(n=Count("pk"), last=Max("finished_at"))
    if failures["n"] < 2 or failures["last"] is None:
        return None
    # The exponent is capped before it is used, so a long failing streak cannot overflow.
    wait_s = min(cap_s, base_s * 2.0 ** min(failures["n"] - 2, 32))
    retry_at: datetime = failures["last"] + timedelta(seconds=wait_s)
    return retry_at if retry_at > timezone.now() else None


def snapshot_queue(*, conversation_id: int, countdown: float | None = None) -> Snapshot | None:
    """Create the conversation's queued snapshot and send its task, unless one is waiting.

    Returns the new snapshot, or None when an already queued one absorbs this trigger or the
    conversation's failing runs are backing off (the catch-up queues it once the wait ends:
    its votes are still ahead of its last success).
    """
    if Snapshot.objects.filter(
        conversation_id=conversation_id, status=SnapshotStatus.QUEUED
    ).exists():
        return None
    if recompute_retry_at(conversation_id=conversation_id) is not None:
        return None
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                conversation_id=conversation_id, status=SnapshotStatus.QUEUED
            )
    except IntegrityError:
        # Race: a concurrent trigger created the queued snapshot between our check and our
        # insert (constraint snapshot_one_queued); that snapshot will include our change.
        return None
    snapshot_dispatch(
        snapshot_id=snapshot.pk,
        countdown=settings.AGORA_RECLUSTER["DEBOUNCE_S"] if countdown is None else countdown,
    )
    return snapshot


def snapshot_dispatch(*, snapshot_id: int, countdown: float = 0.0) -> None:
    """Send the task that runs this snapshot. Sending twice is harmless: runs are claimed.

    Without a broker the run happens here and now, with no debounce.
    """
    from deliberation.tasks import snapshot_run_task  # The task module imports the services.

    if settings.CELERY_TASK_ALWAYS_EAGER:
        snapshot_run_task.apply(args=(snapshot_id,))
    else:
        snapshot_run_task.apply_async(args=(snapshot_id,), countdown=max(countdown, 0.0))


def snapshot_dispatch_waiting(*, conversation_id: int) -> None:
    """Send the task of the conversation's queued snapshot, if there is one.

    A queued run whose task arrived while another run held the conversation gave up; the run
    that finishes calls this so the waiting one starts without waiting for the reaper.
    """
    waiting = (
        Snapshot.objects.filter(conversation_id=conversation_id, status=SnapshotStatus.QUEUED)
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        snapshot_dispatch(snapshot_id=waiting)


def recompute_catch_up() -> list[int]:
    """Schedule every conversation whose votes are ahead of its latest succeeded snapshot.

    The safety net behind the after-commit triggers: a trigger lost to a broker outage, a
    failed run or a crashed web process is made up for here. Returns the conversation ids.
    """
    latest_event = (
        VoteEvent.objects.filter(conversation=OuterRef("pk")).order_by("-id").values("id")[:1]
    )
    waiting_or_running = Snapshot.objects.filter(
        conversation=OuterRef("pk"), status__in=[SnapshotStatus.QUEUED, SnapshotStatus.RUNNING]
    )
    behind = (
        Conversation.objects.annotate(
            last_event=Subquery(latest_event),
            mark=Max("snapshots__watermark", filter=Q(snapshots__status=SnapshotStatus.SUCCEEDED)),
        )
        .filter(last_event__isnull=False)
        .filter(Q(mark__isnull=True) | Q(last_event__gt=F("mark")))
        .exclude(Exists(waiting_or_running))
        .values_list("pk", flat=True)
    )
    scheduled = []
    for conversation_id in behind:
        if snapshot_queue(conversation_id=conversation_id, countdown=0.0) is not None:
            scheduled.append(conversation_id)
    if scheduled:
        logger.info("catch-up scheduled recomputes for conversations %s", scheduled)
    return scheduled


def snapshots_reap() -> list[int]:
    """Hand runs whose worker died back to the queue, and resend tasks of stranded queued runs.

    A running snapshot whose heartbeat is older than ``STALE_S`` lost its worker: it is queued
    again (or, if a newer run is already queued, marked failed, since that run covers it).
    Returns the ids of the snapshots whose task was sent again.
    """
    stale_s = settings.AGORA_RECLUSTER["STALE_S"]
    now = timezone.now()
    stale_before = now - timedelta(seconds=stale_s)
    resent: list[int] = []
    for snapshot in Snapshot.objects.filter(
        status=SnapshotStatus.RUNNING, heartbeat_at__lt=stale_before
    ).only("pk", "attempt", "conversation_id"):
        # Race: the owner may still beat or finish while we look; the update is conditional
        # on the attempt and the stale heartbeat we saw, so a live run is never taken away.
        lost = Snapshot.objects.filter(
            pk=snapshot.pk,
            status=SnapshotStatus.RUNNING,
            attempt=snapshot.attempt,
            heartbeat_at__lt=stale_before,
        )
        try:
            with transaction.atomic():
                requeued = lost.update(status=SnapshotStatus.QUEUED, heartbeat_at=None)
        except IntegrityError:
            # A newer run is already queued (constraint snapshot_one_queued): it covers
            # every vote this one would have, so this one is closed as failed.
            lost.update(
                status=SnapshotStatus.FAILED,
                finished_at=now,
                error=f"Worker lost (no heartbeat for {stale_s:g} s); a newer run covers it.",
            )
            snapshot_dispatch_waiting(conversation_id=snapshot.conversation_id)
            continue
        if requeued:
            logger.warning("snapshot %s lost its worker; queued again", snapshot.pk)
            snapshot_dispatch(snapshot_id=snapshot.pk)
            resent.append(snapshot.pk)
    # A queued run normally starts within the debounce; one still waiting after STALE_S has
    # lost its task message (broker restart) or gave way to a run that died.
    stranded = Snapshot.objects.filter(
        status=SnapshotStatus.QUEUED, created_at__lt=stale_before
    ).values_list("pk", flat=True)
    for snapshot_id in stranded:
        snapshot_dispatch(snapshot_id=snapshot_id)
        resent.append(snapshot_id)
    return resent
