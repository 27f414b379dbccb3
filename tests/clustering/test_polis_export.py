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
