"""Small synthetic Polis exports, written as raw CSV text so a test can break any byte."""

from pathlib import Path

SUMMARY = "topic,Bike lanes\nconversation-description,Where should the city add bike lanes?\n"
COMMENTS = (
    "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
    "1500000000000,,0,0,1,0,1,Add a lane on Main Street.\n"
    "1500000001000,,1,1,0,1,-1,Ban cars downtown.\n"
    "1500000002000,,2,0,0,0,0,Paint the lanes green.\n"
)
# Voter 1 changes their mind on comment 0 (agree, then disagree); the rows are not in time
# order, as in real exports.
VOTES = (
    "timestamp,datetime,comment-id,voter-id,vote\n"
    "1500000020000,,0,1,-1\n"
    "1500000010000,,0,0,1\n"
    "1500000011000,,0,1,1\n"
    "1500000012000,,1,2,0\n"
)
PARTICIPANTS_VOTES = (
    "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1,2\n"
    "0,,2,1,1,0,1,,\n"
    "1,,1,1,0,1,-1,,\n"
    "2,,0,1,0,0,,0,\n"
)
BASE = {"summary.csv": SUMMARY, "comments.csv": COMMENTS, "votes.csv": VOTES}


def write_export(directory: Path, files: dict[str, str | None]) -> Path:
    """Write ``BASE`` overridden by ``files`` (None drops a file) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in {**BASE, **files}.items():
        if content is not None:
            (directory / name).write_text(content, encoding="utf-8")
    return directory
