import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from deliberation.models import ReportVisibility, Visibility
from tests.report.real_data import Clustered

pytestmark = pytest.mark.django_db


def test_exports_a_private_conversations_latest_snapshot_to_a_file(
    seattle: Clustered, tmp_path: Path
) -> None:
    seattle.conversation.visibility = Visibility.PRIVATE
    seattle.conversation.report_visibility = ReportVisibility.MODERATORS
    seattle.conversation.save()
    out = tmp_path / "seattle.json"
    stdout = io.StringIO()

    call_command("export_report", "seattle", "--format", "json", "--out", str(out), stdout=stdout)

    content = out.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    assert json.loads(content)["snapshot"]["id"] == seattle.snapshot.pk
    assert f"snapshot {seattle.snapshot.pk}, sha256 {digest}" in stdout.getvalue()


def test_into_a_folder_the_file_is_named_by_snapshot_and_hash(
    seattle: Clustered, tmp_path: Path
) -> None:
    call_command(
        "export_report",
        "seattle",
        "--snapshot",
        str(seattle.snapshot.pk),
        "--format",
        "csv",
        "--out",
        str(tmp_path),
        stdout=io.StringIO(),
    )

    (written,) = tmp_path.iterdir()
    digest = hashlib.sha256(written.read_bytes()).hexdigest()
    assert written.name == f"seattle-snapshot-{seattle.snapshot.pk}-{digest[:12]}.zip"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing", "--format", "json"], "No conversation called 'missing'"),
        (["seattle", "--snapshot", "999999", "--format", "json"], "No finished snapshot 999999"),
    ],
)
def test_refusals_exit_with_status_2_and_a_clear_message(
    seattle: Clustered, tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message) as refused:
        call_command("export_report", *args, "--out", str(tmp_path / "x"), stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert not (tmp_path / "x").exists()


def test_an_unwritable_path_is_a_clear_error(seattle: Clustered, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "out.json"
    with pytest.raises(CommandError, match="Cannot write"):
        call_command(
            "export_report",
            "seattle",
            "--format",
            "json",
            "--out",
            str(target),
            stdout=io.StringIO(),
        )
