"""A real Polis conversation, imported with ``import_polis`` and clustered by the live
groups pipeline, for the report tests."""

import io
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from deliberation.models import Conversation, Snapshot, SnapshotStatus
from deliberation.services.snapshots import snapshot_run

POLIS_DATA = Path(settings.BASE_DIR) / "data" / "polis"
SEATTLE = "15-per-hour-seattle"


@dataclass(frozen=True)
class Clustered:
    conversation: Conversation
    snapshot: Snapshot


def cluster(conversation: Conversation) -> Snapshot:
    """Run one snapshot of the conversation now, as the recompute task would."""
    queued = Snapshot.objects.create(conversation=conversation)
    ran = snapshot_run(snapshot_id=queued.pk)
    assert ran is not None and ran.status == SnapshotStatus.SUCCEEDED, ran and ran.error
    return Snapshot.objects.get(pk=queued.pk)


def import_and_cluster(
    folder: str = SEATTLE, *, slug: str, visibility: str = "public"
) -> Clustered:
    call_command(
        "import_polis",
        str(POLIS_DATA / folder),
        slug=slug,
        visibility=visibility,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    conversation = Conversation.objects.get(slug=slug)
    return Clustered(conversation, cluster(conversation))
