import csv
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from deliberation.models import Participant, Visibility
from deliberation.selectors.groups import participant_groups_latest
from deliberation.services.polis_export import polis_export_files
from deliberation.services.polis_import import polis_import
from deliberation.services.snapshots import snapshot_run_now
from tests.factories import ConversationFactory
from tests.management.polis_exports import write_export

pytestmark = pytest.mark.django_db


def test_export_writes_the_four_files_and_lists_them(tmp_path: Path) -> None:
    call_command(
        "import_polis",
        str(write_export(tmp_path / "in", {})),
        "--slug",
        "bikes",
        stdout=io.StringIO(),
    )
    stdout = io.StringIO()
    call_command("export_polis", "bikes", str(tmp_path / "out"), stdout=stdout)
    names = ["comments.csv", "votes.csv", "participants-votes.csv", "summary.csv"]
    assert stdout.getvalue().splitlines() == [str(tmp_path / "out" / name) for name in names]


def test_export_includes_private_conversations(tmp_path: Path) -> None:
    conversation = ConversationFactory.create(slug="secret", visibility=Visibility.PRIVATE)
    call_command("export_polis", "secret", str(tmp_path), stdout=io.StringIO())
    assert (tmp_path / "summary.csv").read_bytes() == polis_export_files(conversation=conversation)[
        "summary.csv"
    ]


def test_unknown_conversation_exits_with_status_2(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as failure:
        call_command("export_polis", "nowhere", str(tmp_path), stdout=io.StringIO())
    assert (failure.value.returncode, str(failure.value)) == (
        2,
        "No conversation called 'nowhere'.",
    )
    assert not list(tmp_path.iterdir())


def test_unwritable_folder_exits_with_status_2(tmp_path: Path) -> None:
    ConversationFactory.create(slug="bikes")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError) as failure:
        call_command("export_polis", "bikes", str(blocker / "out"), stdout=io.StringIO())
    assert failure.value.returncode == 2
    assert str(failure.value).startswith(str(blocker))


def test_group_ids_come_from_the_latest_snapshot(tmp_path: Path) -> None:
    seattle = Path(settings.BASE_DIR) / "data" / "polis" / "15-per-hour-seattle"
    conversation = polis_import(directory=seattle, slug="seattle").conversation
    call_command("export_polis", "seattle", str(tmp_path / "before"), stdout=io.StringIO())
    snapshot_run_now(conversation_id=conversation.pk)
    call_command("export_polis", "seattle", str(tmp_path / "after"), stdout=io.StringIO())

    def group_column(directory: Path) -> dict[str, str]:
        with (directory / "participants-votes.csv").open(newline="") as handle:
            return {row["participant"]: row["group-id"] for row in csv.DictReader(handle)}

    assert set(group_column(tmp_path / "before").values()) == {""}
    xids = dict(Participant.objects.filter(conversation=conversation).values_list("id", "xid"))
    expected = {
        str(xids[pk]): str(group)
        for pk, group in participant_groups_latest(conversation=conversation).items()
    }
    assert expected
    assert {xid: group for xid, group in group_column(tmp_path / "after").items() if group} == (
        expected
    )
