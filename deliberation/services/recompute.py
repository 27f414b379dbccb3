"""Scheduling clustering runs: coalescing triggers, catching up, and reaping lost runs.

Every write that changes the math (a vote, a new or moderated statement, an excluded
participant) calls :func:`recompute_schedule`. After the write commits, a queued snapshot is
created unless one is already waiting: at most one queued and one running snapshot exist per
conversation, so a burst of votes collapses into a few runs. A run reads the newest votes
when it starts, so the waiting run includes every vote committed before it starts.

Without a broker (the embedded default), runs happen in this process on one background
thread (:class:`BackgroundRunner`), so a vote returns at once; the ``EAGER_INLINE`` setting
runs them inside the caller instead, as the test suite does to stay deterministic.
"""

import atexit
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connections, transaction
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

    # A closure, not functools.partial: a robust on_commit names a failing callback by its
    # __qualname__, which a partial lacks, so the failure would escape into the request.
    def queue() -> None:
        if _in_background():
            background_runner.trigger(conversation_id=conversation_id)
        else:
            snapshot_queue(conversation_id=conversation_id)

    transaction.on_commit(queue, robust=True)


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

    Without a broker the background thread runs it after the countdown, or with
    ``EAGER_INLINE`` it runs here and now, with no debounce.
    """
    from deliberation.tasks import snapshot_run_task  # The task module imports the services.

    if _in_background():
        background_runner.submit(snapshot_id=snapshot_id, countdown=countdown)
    elif settings.CELERY_TASK_ALWAYS_EAGER:
        snapshot_run_task.apply(args=(snapshot_id,))
    else:
        snapshot_run_task.apply_async(args=(snapshot_id,), countdown=max(countdown, 0.0))


def snapshot_dispatch_waiting(*, conversation_id: int) -> None:
    """Send the task of the conversation's queued snapshot, if there is one.

    A queued run whose task arrived while another run held the conversation gave up; the run
    that finishes calls this so the waiting one starts without waiting for the reaper. It
    still waits out its own debounce, so runs start at least ``DEBOUNCE_S`` apart.
    """
    waiting = (
        Snapshot.objects.filter(conversation_id=conversation_id, status=SnapshotStatus.QUEUED)
        .values_list("pk", "created_at")
        .first()
    )
    if waiting is not None:
        snapshot_id, created_at = waiting
        debounce_ends = created_at + timedelta(seconds=settings.AGORA_RECLUSTER["DEBOUNCE_S"])
        snapshot_dispatch(
            snapshot_id=snapshot_id,
            countdown=(debounce_ends - timezone.now()).total_seconds(),
        )


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


def recompute_stale_s() -> float:
    """How long a running snapshot may go without a heartbeat before its worker counts as dead:
    ``STALE_BEATS`` missed beats."""
    recluster = settings.AGORA_RECLUSTER
    return float(recluster["HEARTBEAT_S"] * recluster["STALE_BEATS"])


def snapshots_reap() -> list[int]:
    """Hand runs whose worker died back to the queue, and resend tasks of stranded queued runs.

    A running snapshot that missed ``STALE_BEATS`` heartbeats lost its worker: it is queued
    again, or, if a newer run is already queued (it absorbed every trigger since), marked
    failed, and that newer run is sent at once. Returns the ids of the snapshots whose task
    was sent again.
    """
    stale_s = recompute_stale_s()
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
    # A queued run normally starts once its debounce ends, or as soon as the run ahead of it
    # finishes. One still waiting a stale period later, with no live run ahead of it, has lost
    # its task message (a broker restart, or a killed worker holding it unacknowledged).
    debounce_s = settings.AGORA_RECLUSTER["DEBOUNCE_S"]
    live_run = Snapshot.objects.filter(
        conversation=OuterRef("conversation"),
        status=SnapshotStatus.RUNNING,
        heartbeat_at__gte=stale_before,
    )
    stranded = (
        Snapshot.objects.filter(
            status=SnapshotStatus.QUEUED,
            created_at__lt=stale_before - timedelta(seconds=debounce_s),
        )
        .exclude(Exists(live_run))
        .values_list("pk", "created_at")
    )
    for snapshot_id, created_at in stranded:
        # Once per stale period: a sweep every few seconds must not pile copies of the
        # message into a queue no worker is reading. The creation time keeps the key apart
        # from a snapshot of the same id in another database (a recreated test database).
        key = f"agora:snapshot-resent:{snapshot_id}:{created_at.timestamp()}"
        if cache.add(key, True, timeout=stale_s):
            snapshot_dispatch(snapshot_id=snapshot_id)
            resent.append(snapshot_id)
    return resent


def _in_background() -> bool:
    return settings.CELERY_TASK_ALWAYS_EAGER and not settings.AGORA_RECLUSTER["EAGER_INLINE"]


class BackgroundRunner:
    """Runs snapshots in this process on one thread, for the embedded default (no broker).

    One thread means one run at a time, so a conversation never runs twice at once. A
    trigger that arrives during a run is kept and queues exactly one more run after it (the
    queued snapshot absorbs any further triggers). Every ``SWEEP_EVERY_S`` the thread runs
    the beat's periodic tasks (catch-up, reapers), since no beat runs without a broker: runs
    and summaries a previous process left behind are taken up again. Work is done with
    short transactions and the thread's database connection is closed after each step, so
    on SQLite the votes of the web threads wait at most for one short write (the busy
    timeout), never for a whole run.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._triggered: set[int] = set()  # conversation ids whose snapshot is not queued yet
        self._due: dict[int, float] = {}  # snapshot id -> monotonic time it may start
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0
        atexit.register(self.stop)

    def trigger(self, *, conversation_id: int) -> None:
        """Queue a run of this conversation from the runner's thread, off the caller's."""
        with self._wake:
            self._triggered.add(conversation_id)
            self._start()

    def submit(self, *, snapshot_id: int, countdown: float = 0.0) -> None:
        """Run this queued snapshot once ``countdown`` seconds have passed."""
        due = time.monotonic() + max(countdown, 0.0)
        with self._wake:
            self._due[snapshot_id] = min(due, self._due.get(snapshot_id, due))
            self._start()

    def stop(self) -> None:
        """Run everything triggered or submitted so far, without waiting for debounces, then
        end the thread: a process that exits leaves no run half done or forgotten."""
        with self._wake:
            thread = self._thread
            self._stopping = True
            self._wake.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _start(self) -> None:
        """Start the thread if it is not running. The caller holds ``self._wake``."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._next_sweep = time.monotonic() + settings.AGORA_RECLUSTER["SWEEP_EVERY_S"]
            self._thread = threading.Thread(target=self._loop, name="agora-recluster", daemon=True)
            self._thread.start()
        self._wake.notify()

    def _take(self) -> tuple[list[int], list[int], bool] | None:
        """Wait for work: triggered conversations, due snapshots, whether to sweep. None once
        stopped with nothing left."""
        with self._wake:
            while True:
                now = time.monotonic()
                due = [sid for sid, at in self._due.items() if at <= now or self._stopping]
                sweep = not self._stopping and now >= self._next_sweep
                if self._triggered or due or sweep:
                    triggered, self._triggered = sorted(self._triggered), set()
                    for snapshot_id in due:
                        del self._due[snapshot_id]
                    if sweep:
                        self._next_sweep = now + settings.AGORA_RECLUSTER["SWEEP_EVERY_S"]
                    return triggered, sorted(due), sweep
                if self._stopping:
                    self._thread = None
                    return None
                self._wake.wait(min([self._next_sweep, *self._due.values()]) - now)

    def _loop(self) -> None:
        # The task module imports the services; importing it also registers every task.
        from deliberation.celery import app
        from deliberation.tasks import snapshot_run_task

        while (work := self._take()) is not None:
            triggered, due, sweep = work
            periodic = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
            steps: list[Callable[[], object]] = [
                *(lambda cid=cid: snapshot_queue(conversation_id=cid) for cid in triggered),
                *(lambda sid=sid: snapshot_run_task.apply(args=(sid,)) for sid in due),
                *((lambda name=name: app.tasks[name].apply()) for name in periodic if sweep),
            ]
            for step in steps:
                try:
                    step()
                except Exception:
                    # The thread outlives any one failure; the sweep retries what was lost.
                    logger.exception("background recompute step failed")
                finally:
                    connections.close_all()


background_runner = BackgroundRunner()
