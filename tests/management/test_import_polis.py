import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from deliberation.models import Conversation, Participant, Statement, Vote, VoteEvent
from tests.management.polis_exports import COMMENTS, PARTICIPANTS_VOTES, VOTES, write_export

pytestmark = pytest.mark.django_db

COMMENTS_HEADER = COMMENTS.splitlines()[0]
VOTES_HEADER = VOTES.splitlines()[0]


def database_state() -> dict[str, object]:
    return {
        "counts": [
            model.objects.count()
            for model in (Conversation, Participant, Statement, Vote, VoteEvent)
        ],
        "conversations": list(Conversation.objects.values_list("slug", "topic", "description")),
        "statements": sorted(Statement.objects.values_list("external_id", "text", "status")),
        "votes": sorted(
            Vote.objects.values_list("participant__xid", "statement__external_id", "value")
        ),
    }


MALFORMED = [
    pytest.param({"comments.csv": None}, "comments.csv: missing", id="missing comments"),
    pytest.param(
        {"votes.csv": None},
        "votes.csv: missing, and there is no participants-votes.csv",
        id="missing votes",
    ),
    pytest.param(
        {"comments.csv": ""}, "comments.csv:1: empty file, expected a header row", id="empty"
    ),
    pytest.param(
        {"votes.csv": "timestamp,datetime,comment-id,voter-id\n1,,0,0\n"},
        "votes.csv:1: missing column(s): vote",
        id="missing column",
    ),
    pytest.param(
        {"votes.csv": VOTES + "1500000030000,,0,0,2\n"},
        "votes.csv:6: vote must be -1, 0 or 1, got 2",
        id="vote out of range",
    ),
    pytest.param(
        {"votes.csv": VOTES + "1500000030000,,0,0,yes\n"},
        "votes.csv:6: vote must be -1, 0 or 1, got 'yes'",
        id="vote not a number",
    ),
    pytest.param(
        {"votes.csv": VOTES + "1500000030000,,0,x7,1\n"},
        "votes.csv:6: voter-id must be a non-negative integer, got 'x7'",
        id="non-integer voter id",
    ),
    pytest.param(
        {"votes.csv": VOTES + "1500000030000,,9,0,1\n"},
        "votes.csv:6: comment-id 9 is not in comments.csv",
        id="vote on unknown comment",
    ),
    pytest.param(
        {"votes.csv": VOTES + "1500000030000,,0,0\n"},
        "votes.csv:6: has 4 cells but the header has 5",
        id="short row",
    ),
    pytest.param(
        {"comments.csv": COMMENTS + "1500000003000,,3.5,0,0,0,1,Lanes need curbs.\n"},
        "comments.csv:5: comment-id must be a non-negative integer, got '3.5'",
        id="non-integer comment id",
    ),
    pytest.param(
        {"comments.csv": COMMENTS + "1500000003000,,2,0,0,0,1,Lanes need curbs.\n"},
        "comments.csv:5: comment-id 2 appears twice (first on line 4)",
        id="duplicate comment id",
    ),
    pytest.param(
        {"comments.csv": COMMENTS + "1500000003000,,3,0,0,0,2,Lanes need curbs.\n"},
        "comments.csv:5: moderated must be -1, 0 or 1, got 2",
        id="moderated out of range",
    ),
    pytest.param(
        {"comments.csv": COMMENTS + f"1500000003000,,{2**63},0,0,0,1,Lanes need curbs.\n"},
        f"comments.csv:5: comment-id must be at most {2**63 - 1}, got {2**63}",
        id="comment id beyond 64 bits",
    ),
    pytest.param(
        {"comments.csv": COMMENTS + f"1500000003000,,3,{10**300},0,0,1,Lanes need curbs.\n"},
        f"comments.csv:5: author-id must be at most {2**63 - 1}, got {10**300}",
        id="author id beyond 64 bits",
    ),
    pytest.param(
        {
            "comments.csv": COMMENTS_HEADER
            + ",is-meta\n"
            + "".join(line + ",0\n" for line in COMMENTS.splitlines()[1:3])
            + "1500000002000,,2,0,0,0,0,Paint the lanes green.,maybe\n"
        },
        "comments.csv:4: is-meta must be 1, 0, true, false or empty, got 'maybe'",
        id="bad is-meta",
    ),
    pytest.param(
        {
            "comments.csv": COMMENTS_HEADER
            + '\n1500000000000,,0,0,0,0,1,"A lane\non two lines."\n'
            + "1500000001000,,1,0,0,0,2,Ban cars.\n"
        },
        "comments.csv:4: moderated must be -1, 0 or 1, got 2",
        id="line numbers count multi-line cells",
    ),
    pytest.param(
        {"votes.csv": None, "participants-votes.csv": PARTICIPANTS_VOTES + "3,,0,1,0,0,,,5\n"},
        "participants-votes.csv:5: vote on comment 2 must be -1, 0 or 1, got 5",
        id="matrix vote out of range",
    ),
    pytest.param(
        {
            "votes.csv": None,
            "participants-votes.csv": PARTICIPANTS_VOTES.replace(",0,1,2\n", ",0,1,7\n", 1),
        },
        "participants-votes.csv:1: column '7' is neither a known column nor a comment id in "
        "comments.csv",
        id="matrix column for unknown comment",
    ),
    pytest.param(
        {"summary.csv": "topic\n"},
        "summary.csv:1: expected 'key,value', got 1 cells",
        id="summary without value",
    ),
]


@pytest.mark.parametrize(("files", "message"), MALFORMED)
def test_malformed_export_fails_with_one_located_error_and_changes_nothing(
    tmp_path: Path, files: dict[str, str | None], message: str
) -> None:
    call_command(
        "import_polis",
        str(write_export(tmp_path / "good", {})),
        "--slug",
        "bikes",
        stdout=io.StringIO(),
    )
    before = database_state()
    bad = write_export(tmp_path / "bad", files)
    with pytest.raises(CommandError) as failure:
        call_command("import_polis", str(bad), "--slug", "bikes", stdout=io.StringIO())
    assert failure.value.returncode == 2
    assert str(failure.value) == f"{bad}/{message}"
    assert database_state() == before


def test_the_command_prints_one_error_line_and_exits_with_status_2(tmp_path: Path) -> None:
    bad = write_export(tmp_path, {"votes.csv": VOTES + "1500000030000,,0,0,2\n"})
    finished = subprocess.run(
        [sys.executable, "manage.py", "import_polis", str(bad), "--slug", "bikes"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [
        f"CommandError: {bad}/votes.csv:6: vote must be -1, 0 or 1, got 2"
    ]
    assert finished.stdout == ""


def test_the_command_reports_what_it_added_and_warns_about_twins(tmp_path: Path) -> None:
    directory = write_export(
        tmp_path, {"comments.csv": COMMENTS + "1500000003000,,3,0,0,0,1,ban cars  downtown.\n"}
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_polis", str(directory), "--slug", "bikes", stdout=stdout, stderr=stderr)
    assert stdout.getvalue() == (
        "Created 'bikes' from votes.csv: added 3 participants, 4 statements, 4 vote events; "
        "wrote 3 votes.\n"
    )
    assert stderr.getvalue().startswith(f"warning: {directory}/comments.csv:5: comment 3 has")
    stdout = io.StringIO()
    call_command("import_polis", str(directory), "--slug", "bikes", stdout=stdout)
    assert stdout.getvalue() == (
        "Updated 'bikes' from votes.csv: added 0 participants, 0 statements, 0 vote events; "
        "wrote 0 votes.\n"
    )


def test_the_command_counts_comments_imported_as_rejected(tmp_path: Path) -> None:
    comments = (
        COMMENTS + '1500000003000,,3,1,0,0,-1,""\n' + f"1500000004000,,4,2,0,0,1,{'y' * 501}\n"
    )
    directory = write_export(tmp_path, {"comments.csv": comments})
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("import_polis", str(directory), "--slug", "bikes", stdout=stdout, stderr=stderr)

    assert stdout.getvalue() == (
        "Created 'bikes' from votes.csv: added 3 participants, 5 statements, 4 vote events; "
        "wrote 3 votes. 2 comments could not be statements as exported (empty, too long or "
        "holding control characters): imported as rejected, see the warnings.\n"
    )
    assert stderr.getvalue().splitlines() == [
        f"warning: {directory}/comments.csv:5: comment 3: A statement cannot be empty. "
        "Imported it as rejected, with a placeholder text.",
        f"warning: {directory}/comments.csv:6: comment 4: A statement can be at most 500 "
        "characters (this one has 501). Imported it as rejected, cut to 500 characters.",
    ]


def test_the_command_takes_topic_and_visibility(tmp_path: Path) -> None:
    call_command(
        "import_polis",
        str(write_export(tmp_path, {})),
        "--slug",
        "bikes",
        "--topic",
        "Cycling",
        "--visibility",
        "private",
        stdout=io.StringIO(),
    )
    assert Conversation.objects.values_list("topic", "visibility").get() == ("Cycling", "private")
