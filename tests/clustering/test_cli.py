import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clustering import Options
from clustering.cli import analyze_export, main
from clustering.polis_export import read_export

SEATTLE = Path(__file__).resolve().parents[2] / "data" / "polis" / "15-per-hour-seattle"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clustering", *args], capture_output=True, text=True, check=False
    )


def test_analyze_prints_one_json_document() -> None:
    result = run("analyze", str(SEATTLE), "--seed", "1", "--max-k", "3")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["k"] == len(document["groups"]) >= 2
    assert document["k"] <= 3
    member = next(p for p in document["participants"].values() if p["group"] is not None)
    assert member["in_conv"] and isinstance(member["x"], float)
    group = document["groups"][0]
    assert group["representative"][0]["direction"] in {"agree", "disagree"}
    assert set(document["timings_ms"]) >= {"pca", "base_clusters", "groups"}


def copy_export(tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(SEATTLE, target)
    return target


def test_a_vote_outside_the_range_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = copy_export(tmp_path)
    votes = export / "votes.csv"
    lines = votes.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",5"
    votes.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(export)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{votes}:4: vote must be -1, 0 or 1, got 5"]


def test_a_missing_column_names_the_header_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = copy_export(tmp_path)
    comments = export / "comments.csv"
    comments.write_text(comments.read_text().replace("moderated", "status", 1))
    assert main(["analyze", str(export)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{comments}:1: missing column")


def test_a_missing_file_exits_with_status_2(tmp_path: Path) -> None:
    result = run("analyze", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == f"{tmp_path / 'comments.csv'}: missing"


def test_participants_votes_is_read_when_votes_csv_is_absent(tmp_path: Path) -> None:
    export = copy_export(tmp_path)
    (export / "votes.csv").unlink()
    result = run("analyze", str(export))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["k"] >= 2


def test_reproduce_polis_runs_with_polis_quirks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SEATTLE), "--reproduce-polis"]) == 0
    printed = json.loads(capsys.readouterr().out)
    options = Options.reproduce_polis(community_notes=True)
    expected = analyze_export(read_export(SEATTLE), options).to_dict()
    printed.pop("timings_ms"), expected.pop("timings_ms")
    assert printed == json.loads(json.dumps(expected))
    assert options.count_zeroed_as_voted and options.group_max_iter == 20
