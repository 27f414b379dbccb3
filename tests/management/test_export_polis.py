import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from deliberation.models import Visibility
from deliberation.services.polis_export import polis_export_files
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
