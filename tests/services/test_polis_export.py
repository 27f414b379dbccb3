from pathlib import Path

import pytest
from django.conf import settings

from deliberation.models import Conversation, Participant, Statement, StatementStatus
from deliberation.services.polis_export import polis_export_files, polis_export_write, polis_ids
from deliberation.services.polis_import import polis_import
from deliberation.services.statements import statement_create
from deliberation.services.votes import vote_cast
from tests.factories import ParticipantFactory
from tests.management.polis_exports import write_export

pytestmark = pytest.mark.django_db

POLIS_DIR = Path(settings.BASE_DIR) / "data" / "polis"


def snapshot(conversation: Conversation) -> dict[str, object]:
    """Everything a round trip must keep, keyed by the ids the export carries."""
    return {
        "participants": sorted(
            str(xid)
            for xid in Participant.objects.filter(conversation=conversation).values_list(
                "xid", flat=True
            )
        ),
        "statements": sorted(
            Statement.objects.filter(conversation=conversation).values_list(
                "external_id",
                "text",
                "status",
                "is_meta",
                "is_seed",
                "author_participant__xid",
                "created_at",
            )
        ),
        "latest votes": sorted(
            conversation.participants.filter(votes__isnull=False).values_list(
                "xid", "votes__statement__external_id", "votes__value"
            )
        ),
        "topic": (conversation.topic, conversation.description),
    }


@pytest.mark.parametrize(
    "name", ["15-per-hour-seattle", "vtaiwan.uberx", "scoop-hivemind.biodiversity"]
)
def test_import_export_import_gives_the_same_conversation(name: str, tmp_path: Path) -> None:
    original = polis_import(directory=POLIS_DIR / name, slug="original").conversation
    polis_export_write(conversation=original, directory=tmp_path)
    copy = polis_import(directory=tmp_path, slug="copy").conversation
    assert snapshot(copy) == snapshot(original)
    # Same ids, same rows: the copy exports byte for byte what the original did.
    assert polis_export_files(conversation=copy) == polis_export_files(conversation=original)


def test_export_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    assert polis_export_files(conversation=conversation) == polis_export_files(
        conversation=conversation
    )


def test_export_writes_polis_columns_and_rows(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    files = polis_export_files(conversation=conversation)
    assert files["comments.csv"].decode().splitlines() == [
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body,"
        "is-meta,is-seed",
        "1500000000000,Fri Jul 14 02:40:00 UTC 2017,0,0,1,1,1,Add a lane on Main Street.,0,0",
        "1500000001000,Fri Jul 14 02:40:01 UTC 2017,1,1,0,0,-1,Ban cars downtown.,0,0",
        "1500000002000,Fri Jul 14 02:40:02 UTC 2017,2,0,0,0,0,Paint the lanes green.,0,0",
    ]
    assert files["votes.csv"].decode().splitlines() == [
        "timestamp,datetime,comment-id,voter-id,vote",
        "1500000010000,Fri Jul 14 02:40:10 UTC 2017,0,0,1",
        "1500000011000,Fri Jul 14 02:40:11 UTC 2017,0,1,1",
        "1500000020000,Fri Jul 14 02:40:20 UTC 2017,0,1,-1",
        "1500000012000,Fri Jul 14 02:40:12 UTC 2017,1,2,0",
    ]
    assert files["participants-votes.csv"].decode().splitlines() == [
        "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1,2",
        "0,,2,1,1,0,1,,",
        "1,,1,1,0,1,-1,,",
        "2,,0,1,0,0,,0,",
    ]
    assert files["summary.csv"].decode().splitlines() == [
        "topic,Bike lanes",
        "voters,3",
        "commenters,2",
        "comments,3",
        "conversation-description,Where should the city add bike lanes?",
    ]


def test_group_ids_come_from_the_groups_mapping(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    by_xid = dict(Participant.objects.filter(conversation=conversation).values_list("xid", "id"))
    files = polis_export_files(conversation=conversation, groups={by_xid["0"]: 1, by_xid["2"]: 0})
    rows = [line.split(",")[:2] for line in files["participants-votes.csv"].decode().splitlines()]
    assert rows == [["participant", "group-id"], ["0", "1"], ["1", ""], ["2", "0"]]
    assert "groups,2" in files["summary.csv"].decode().splitlines()


def test_rows_without_polis_ids_are_numbered_after_the_imported_ones(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    newcomer = ParticipantFactory.create(conversation=conversation)
    statement = statement_create(conversation=conversation, text="Lanes on every bridge.")
    vote_cast(participant=newcomer, statement=statement, value=1)
    Participant.objects.create(conversation=conversation, xid="alice")

    polis_export_write(conversation=conversation, directory=tmp_path / "out")
    copy = polis_import(directory=tmp_path / "out", slug="copy").conversation
    xids = Participant.objects.filter(conversation=copy).values_list("xid", flat=True)
    assert set(xids) == {"0", "1", "2", "3"}
    assert Statement.objects.get(conversation=copy, external_id="3").text == (
        "Lanes on every bridge."
    )
    assert Statement.objects.get(conversation=copy, external_id="3").status == (
        StatementStatus.ACCEPTED
    )
    # A moderator's statement has no author: its author-id cell is empty and stays so.
    assert Statement.objects.get(conversation=copy, external_id="3").author_participant is None
    assert copy.participants.get(xid="3").votes.get().value == 1


def test_polis_ids_keep_canonical_integers_and_number_the_rest_after_them() -> None:
    rows = [(10, "4"), (11, None), (12, "007"), (13, "alice"), (14, "0")]
    assert polis_ids(rows) == {10: 4, 14: 0, 11: 5, 12: 6, 13: 7}


def test_export_write_creates_the_folder_and_writes_the_four_files(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    written = polis_export_write(conversation=conversation, directory=tmp_path / "a" / "b")
    files = polis_export_files(conversation=conversation)
    assert {path.name: path.read_bytes() for path in written} == files
