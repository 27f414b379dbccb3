"""The one Polis export reader, without Django: arrays, flags and located errors."""

from pathlib import Path

import pytest

from clustering.polis_export import ExportError, read_export
from tests.management.polis_exports import COMMENTS, PARTICIPANTS_VOTES, write_export


def test_votes_come_back_in_time_order_with_ties_in_file_order(tmp_path: Path) -> None:
    votes = "timestamp,datetime,comment-id,voter-id,vote\n" + (
        "1500000020000,,0,1,-1\n1500000010000,,0,0,1\n1500000010000,,1,0,0\n"
    )
    export = read_export(write_export(tmp_path, {"votes.csv": votes}))
    order = export.votes.chronological()
    assert export.votes.lines[order].tolist() == [3, 4, 2]
    assert export.votes_file == "votes.csv"
    assert (export.topic, export.description) == (
        "Bike lanes",
        "Where should the city add bike lanes?",
    )


def test_moderated_out_and_meta_are_comment_ids(tmp_path: Path) -> None:
    comments = COMMENTS.replace("comment-body\n", "comment-body,is-meta\n", 1)
    comments = comments.replace("lane on Main Street.\n", "lane on Main Street.,\n")
    comments = comments.replace("Ban cars downtown.\n", "Ban cars downtown.,\n")
    comments = comments.replace("Paint the lanes green.\n", "Paint the lanes green.,true\n")
    export = read_export(write_export(tmp_path, {"comments.csv": comments}))
    assert export.moderated_out.tolist() == [1]
    assert export.meta.tolist() == [2]


def test_participants_votes_cells_are_dated_with_their_comments_timestamp(tmp_path: Path) -> None:
    export = read_export(
        write_export(tmp_path, {"votes.csv": None, "participants-votes.csv": PARTICIPANTS_VOTES})
    )
    assert export.votes_file == "participants-votes.csv"
    by_comment = {c.comment_id: c.created_ms for c in export.comments}
    assert export.votes.created_ms.tolist() == [
        by_comment[c] for c in export.votes.comment_ids.tolist()
    ]
    assert sorted(
        zip(export.votes.voter_ids.tolist(), export.votes.comment_ids.tolist(), strict=True)
    ) == [(0, 0), (1, 0), (2, 1)]


def test_comment_bodies_are_left_as_written(tmp_path: Path) -> None:
    comments = COMMENTS.replace("Add a lane on Main Street.", '"  Add a  lane. "', 1)
    export = read_export(write_export(tmp_path, {"comments.csv": comments}))
    assert export.comments[0].body == "  Add a  lane. "


def test_a_fault_is_a_value_error_naming_file_line_and_problem(tmp_path: Path) -> None:
    votes = "timestamp,datetime,comment-id,voter-id,vote\n1500000010000,,9,0,1\n"
    folder = write_export(tmp_path, {"votes.csv": votes})
    with pytest.raises(ExportError) as caught:
        read_export(folder)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line, error.problem) == (
        folder / "votes.csv",
        2,
        "comment-id 9 is not in comments.csv",
    )
    assert str(error) == f"{folder / 'votes.csv'}:2: comment-id 9 is not in comments.csv"


def test_a_path_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not a folder"):
        read_export(tmp_path / "absent")


VOTES_HEADER = "timestamp,datetime,comment-id,voter-id,vote\n"


def plain_votes(rows: int) -> str:
    return VOTES_HEADER + "".join(
        f"{1500000000000 + i},,{i % 3},{i // 3},{(i % 3) - 1}\n" for i in range(rows)
    )


def test_a_plain_votes_file_reads_the_same_as_the_same_votes_quoted(tmp_path: Path) -> None:
    plain = plain_votes(300)
    quoted = "\n".join(
        ",".join(f'"{cell}"' for cell in line.split(",")) for line in plain.splitlines()
    )
    fast = read_export(write_export(tmp_path / "plain", {"votes.csv": plain})).votes
    slow = read_export(write_export(tmp_path / "quoted", {"votes.csv": quoted + "\n"})).votes
    for name in ("lines", "created_ms", "comment_ids", "voter_ids", "values"):
        assert getattr(fast, name).tolist() == getattr(slow, name).tolist(), name
    assert fast.values.tolist()[:3] == [-1, 0, 1]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("1500000000000,,1,12,2", "vote must be -1, 0 or 1, got 2"),
        ("1500000000000,,7,12,1", "comment-id 7 is not in comments.csv"),
        ("1500000000000,,1,-12,1", "voter-id must be a non-negative integer, got '-12'"),
        ("1500000000000,,1,12", "has 4 cells but the header has 5"),
    ],
)
def test_a_fault_deep_in_a_large_plain_file_is_located(
    tmp_path: Path, row: str, problem: str
) -> None:
    lines = plain_votes(5000).splitlines()
    lines.insert(4000, row)
    with pytest.raises(ExportError, match=problem) as caught:
        read_export(write_export(tmp_path, {"votes.csv": "\n".join(lines) + "\n"}))
    assert caught.value.line == 4001


def test_rows_too_short_and_too_long_do_not_cancel_out(tmp_path: Path) -> None:
    lines = plain_votes(10).splitlines()
    lines[3] += ",1"
    lines[6] = lines[6].rsplit(",", 1)[0]
    with pytest.raises(ExportError, match="has 6 cells but the header has 5") as caught:
        read_export(write_export(tmp_path, {"votes.csv": "\n".join(lines) + "\n"}))
    assert caught.value.line == 4


@pytest.mark.parametrize("votes_file", ["votes.csv", "participants-votes.csv"])
def test_a_voter_id_beyond_64_bits_is_a_located_error(tmp_path: Path, votes_file: str) -> None:
    huge = str(2**64)
    files: dict[str, str | None]
    if votes_file == "votes.csv":
        files = {"votes.csv": f"{VOTES_HEADER}1500000000000,,1,{huge},1\n"}
        column = "voter-id"
    else:
        lines = PARTICIPANTS_VOTES.splitlines()
        first = lines[1].split(",")
        lines[1] = ",".join([huge, *first[1:]])
        files = {"votes.csv": None, "participants-votes.csv": "\n".join(lines) + "\n"}
        column = "participant"
    with pytest.raises(ExportError) as caught:
        read_export(write_export(tmp_path, files))
    assert str(caught.value).endswith(
        f"{votes_file}:2: {column} must be at most {2**63 - 1}, got {huge}"
    )
