"""``manage.py recluster SLUG [--wait]``: recompute a conversation's opinion groups."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deliberation.errors import AgoraError
from deliberation.models import Conversation, SnapshotStatus
from deliberation.services.recompute import recompute_retry_at, snapshot_queue
from deliberation.services.snapshots import snapshot_run_now


class Command(BaseCommand):
    help = (
        "Queue a recompute of a conversation's opinion groups for the workers, or with --wait "
        "run it here and report the result."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug", help="The conversation's slug.")
        parser.add_argument(
            "--wait", action="store_true", help="Run in this process and report the snapshot."
        )

    def handle(self, *args: Any, slug: str, wait: bool, **options: Any) -> None:
        conversation = Conversation.objects.filter(slug=slug).first()
        if conversation is None:
            raise CommandError(f"No conversation called {slug!r}.")
        if not wait:
            queued = snapshot_queue(conversation_id=conversation.pk, countdown=0.0)
            retry_at = recompute_retry_at(conversation_id=conversation.pk)
            if queued is not None:
                self.stdout.write(f"Queued snapshot {queued.pk}.")
            elif retry_at is not None:
                self.stdout.write(
                    "Recent runs failed, so runs are backing off until "
                    f"{retry_at:%Y-%m-%d %H:%M:%S %Z}; use --wait to run one now."
                )
            else:
                self.stdout.write("A run is already queued; it will include every vote so far.")
            return
        try:
            snapshot = snapshot_run_now(conversation_id=conversation.pk)
        except AgoraError as error:
            raise CommandError(error.message) from error
        if snapshot.status != SnapshotStatus.SUCCEEDED:
            raise CommandError(f"Snapshot {snapshot.pk} failed: {snapshot.error}")
        sizes = ", ".join(f"{gid}: {size}" for gid, size in sorted(snapshot.group_sizes.items()))
        timings = ", ".join(f"{step} {ms:.0f} ms" for step, ms in snapshot.timings_ms.items())
        self.stdout.write(
            f"Snapshot {snapshot.pk} succeeded: watermark {snapshot.watermark}, "
            f"{snapshot.n_votes} votes, {snapshot.n_participants} participants "
            f"({snapshot.n_in_conv} grouped), {snapshot.k} groups ({sizes}).\n"
            f"Timings: {timings}."
        )
