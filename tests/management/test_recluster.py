import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from deliberation.models import Snapshot, SnapshotStatus, VoteEvent
from tests.snapshot_data import two_camps

pytestmark = pytest.mark.django_db


def test_recluster_wait_runs_here_and_reports_the_snapshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    camps = two_camps(per_camp=5)

    call_command("recluster", camps.conversation.slug, "--wait")

    snapshot = Snapshot.objects.get(conversation=camps.conversation)
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    assert snapshot.watermark == VoteEvent.objects.latest("id").pk
    out = capsys.readouterr().out
    assert f"Snapshot {snapshot.pk} succeeded: watermark {snapshot.watermark}" in out
    assert "2 groups" in out


def test_recluster_without_wait_queues_one_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deliberation.services import recompute

    sent: list[int] = []
    monkeypatch.setattr(
        recompute,
        "snapshot_dispatch",
        lambda *, snapshot_id, countdown=0.0: sent.append(snapshot_id),
    )
    camps = two_camps(per_camp=2)

    call_command("recluster", camps.conversation.slug)
    call_command("recluster", camps.conversation.slug)

    queued = Snapshot.objects.get(conversation=camps.conversation, status=SnapshotStatus.QUEUED)
    assert sent == [queued.pk]
    assert "already queued" in capsys.readouterr().out


def test_recluster_of_an_unknown_conversation_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="No conversation called 'nope'"):
        call_command("recluster", "nope")


def test_recluster_without_wait_says_when_failing_runs_are_backing_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    camps = two_camps(per_camp=5)
    for _ in range(2):
        Snapshot.objects.create(
            conversation=camps.conversation,
            status=SnapshotStatus.FAILED,
            error="boom",
            finished_at=timezone.now(),
        )

    call_command("recluster", camps.conversation.slug)

    assert "backing off until" in capsys.readouterr().out
    assert not Snapshot.objects.filter(status=SnapshotStatus.QUEUED).exists()
