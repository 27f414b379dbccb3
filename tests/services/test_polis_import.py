import csv
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from deliberation.errors import InvalidInput
from deliberation.models import (
    Conversation,
    ModerationMode,
    Participant,
    Statement,
    StatementStatus,
    Visibility,
    Vote,
    VoteEvent,
    normalize_statement_text,
)
from deliberation.models.conversations import STATEMENT_KEY_MAX_LENGTH
from deliberation.polis_format import PolisFormatError, datetime_to_ms
from deliberation.services import polis_import as polis_import_module
from deliberation.services.polis_import import polis_import
from deliberation.services.statements import statement_create
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory
from tests.management.polis_exports import COMMENTS, PARTICIPANTS_VOTES, VOTES, write_export

pytestmark = pytest.mark.django_db

POLIS_DIR = Path(settings.BASE_DIR) / "data" / "polis"
SEATTLE = POLIS_DIR / "15-per-hour-seattle"


def latest_votes(conversation: Conversation) -> dict[tuple[str | None, str | None], int]:
    """(participant xid, statement external id) → latest vote value."""
    return {
        (xid, external_id): value
        for xid, external_id, value in Vote.objects.filter(conversation=conversation).values_list(
            "participant__xid", "statement__external_id", "value"
        )
    }


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Conversation, Participant, Statement, Vote, VoteEvent)
    }


def test_import_creates_a_strict_public_conversation_from_the_summary(tmp_path: Path) -> None:
    result = polis_import(directory=write_export(tmp_path, {}), slug="bikes")
    conversation = result.conversation
    assert result.created
    assert (conversation.slug, conversation.topic, conversation.description) == (
        "bikes",
        "Bike lanes",
        "Where should the city add bike lanes?",
    )
    assert conversation.moderation_mode == ModerationMode.STRICT
    assert conversation.visibility == Visibility.PUBLIC


def test_topic_and_visibility_options_override_the_defaults(tmp_path: Path) -> None:
    conversation = polis_import(
        directory=write_export(tmp_path, {}),
        slug="bikes",
        topic="  Cycling in town ",
        visibility=Visibility.UNLISTED,
    ).conversation
    assert (conversation.topic, conversation.visibility) == ("Cycling in town", "unlisted")


def test_missing_summary_needs_a_topic(tmp_path: Path) -> None:
    directory = write_export(tmp_path, {"summary.csv": None})
    with pytest.raises(PolisFormatError, match=r"summary\.csv: The topic cannot be empty\."):
        polis_import(directory=directory, slug="bikes")
    assert polis_import(directory=directory, slug="bikes", topic="Bikes").conversation.topic


def test_comments_keep_ids_authors_moderation_flags_and_timestamps(tmp_path: Path) -> None:
    comments = (
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body,"
        "is-meta,is-seed\n"
        "1500000000000,,0,7,0,0,1,Add a lane on Main Street.,0,1\n"
        "1500000001250,,1,8,0,0,-1,Ban cars downtown.,1,0\n"
        "1500000002000,,2,,0,0,0,  Paint the lanes green.  ,,\n"
    )
    votes = "timestamp,datetime,comment-id,voter-id,vote\n1500000010000,,0,9,1\n"
    conversation = polis_import(
        directory=write_export(tmp_path, {"comments.csv": comments, "votes.csv": votes}),
        slug="bikes",
    ).conversation
    rows = list(
        Statement.objects.filter(conversation=conversation)
        .order_by("external_id")
        .values_list(
            "external_id",
            "text",
            "status",
            "is_meta",
            "is_seed",
            "author_participant__xid",
            "created_at",
        )
    )
    assert rows == [
        (
            "0",
            "Add a lane on Main Street.",
            StatementStatus.ACCEPTED,
            False,
            True,
            "7",
            datetime(2017, 7, 14, 2, 40, tzinfo=UTC),
        ),
        (
            "1",
            "Ban cars downtown.",
            StatementStatus.REJECTED,
            True,
            False,
            "8",
            datetime(2017, 7, 14, 2, 40, 1, 250000, tzinfo=UTC),
        ),
        (
            "2",
            "Paint the lanes green.",
            StatementStatus.PENDING,
            False,
            False,
            None,
            datetime(2017, 7, 14, 2, 40, 2, tzinfo=UTC),
        ),
    ]
    assert set(
        Participant.objects.filter(conversation=conversation).values_list("xid", flat=True)
    ) == {"7", "8", "9"}


def test_every_vote_event_is_kept_and_the_latest_one_wins(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    events = list(
        VoteEvent.objects.filter(conversation=conversation)
        .order_by("created_at")
        .values_list("participant__xid", "statement__external_id", "value", "created_at")
    )
    assert events == [
        ("0", "0", 1, datetime(2017, 7, 14, 2, 40, 10, tzinfo=UTC)),
        ("1", "0", 1, datetime(2017, 7, 14, 2, 40, 11, tzinfo=UTC)),
        ("2", "1", 0, datetime(2017, 7, 14, 2, 40, 12, tzinfo=UTC)),
        ("1", "0", -1, datetime(2017, 7, 14, 2, 40, 20, tzinfo=UTC)),
    ]
    # Voter 1's disagree comes first in the file but is the later vote.
    assert latest_votes(conversation) == {("0", "0"): 1, ("1", "0"): -1, ("2", "1"): 0}


def test_events_with_one_timestamp_are_ordered_as_in_the_file(tmp_path: Path) -> None:
    votes = (
        "timestamp,datetime,comment-id,voter-id,vote\n"
        "1500000010000,,0,0,1\n"
        "1500000010000,,0,0,-1\n"
        "1500000010000,,0,0,0\n"
    )
    conversation = polis_import(
        directory=write_export(tmp_path, {"votes.csv": votes}), slug="bikes"
    ).conversation
    assert latest_votes(conversation) == {("0", "0"): 0}
    assert VoteEvent.objects.filter(conversation=conversation).count() == 3


def test_reimporting_a_real_export_changes_nothing() -> None:
    first = polis_import(directory=SEATTLE, slug="seattle")
    counts, votes = row_counts(), latest_votes(first.conversation)
    second = polis_import(directory=SEATTLE, slug="seattle")
    assert not second.created
    assert (
        second.participants_added,
        second.statements_added,
        second.vote_events_added,
        second.votes_written,
    ) == (0, 0, 0, 0)
    assert row_counts() == counts
    assert latest_votes(second.conversation) == votes


def test_a_real_export_keeps_every_event_with_its_timestamp_and_last_votes() -> None:
    conversation = polis_import(directory=SEATTLE, slug="seattle").conversation
    with (SEATTLE / "votes.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected_events = Counter(
        (row["voter-id"], row["comment-id"], int(row["timestamp"]), int(row["vote"]))
        for row in rows
    )
    stored_events = Counter(
        (xid, external_id, datetime_to_ms(created_at), value)
        for xid, external_id, created_at, value in VoteEvent.objects.filter(
            conversation=conversation
        ).values_list("participant__xid", "statement__external_id", "created_at", "value")
    )
    assert stored_events == expected_events
    last: dict[tuple[str, str], tuple[int, int]] = {}
    for line, row in enumerate(rows):
        key = (row["voter-id"], row["comment-id"])
        moment = (int(row["timestamp"]), line)
        if key not in last or moment > last[key]:
            last[key] = moment
    expected_latest = {key: int(rows[line]["vote"]) for key, (_, line) in last.items()}
    assert latest_votes(conversation) == expected_latest


def test_reimporting_a_newer_export_adds_only_what_is_new(tmp_path: Path) -> None:
    polis_import(directory=write_export(tmp_path / "old", {}), slug="bikes")
    newer = write_export(
        tmp_path / "new",
        {
            "comments.csv": COMMENTS + "1500000003000,,3,2,0,0,1,Lanes need curbs.\n",
            "votes.csv": VOTES + "1500000030000,,0,0,-1\n1500000031000,,3,3,1\n",
        },
    )
    result = polis_import(directory=newer, slug="bikes")
    assert (
        result.participants_added,
        result.statements_added,
        result.vote_events_added,
        result.votes_written,
    ) == (1, 1, 2, 2)
    assert latest_votes(result.conversation) == {
        ("0", "0"): -1,
        ("1", "0"): -1,
        ("2", "1"): 0,
        ("3", "3"): 1,
    }


def test_reimport_leaves_moderation_decisions_and_newer_votes_alone(tmp_path: Path) -> None:
    directory = write_export(tmp_path, {})
    conversation = polis_import(directory=directory, slug="bikes").conversation
    Statement.objects.filter(conversation=conversation, external_id="2").update(
        status=StatementStatus.ACCEPTED
    )
    Vote.objects.filter(
        conversation=conversation, participant__xid="0", statement__external_id="0"
    ).update(value=-1, updated_at=timezone.now())
    polis_import(directory=directory, slug="bikes")
    assert Statement.objects.get(conversation=conversation, external_id="2").status == (
        StatementStatus.ACCEPTED
    )
    assert latest_votes(conversation)[("0", "0")] == -1


def test_participants_votes_is_read_when_votes_csv_is_absent(tmp_path: Path) -> None:
    result = polis_import(
        directory=write_export(
            tmp_path, {"votes.csv": None, "participants-votes.csv": PARTICIPANTS_VOTES}
        ),
        slug="bikes",
    )
    assert result.votes_file == "participants-votes.csv"
    conversation = result.conversation
    assert latest_votes(conversation) == {("0", "0"): 1, ("1", "0"): -1, ("2", "1"): 0}
    # No time in that file: each vote is dated with its comment's timestamp.
    assert set(
        VoteEvent.objects.filter(conversation=conversation).values_list(
            "statement__external_id", "created_at"
        )
    ) == {
        ("0", datetime(2017, 7, 14, 2, 40, tzinfo=UTC)),
        ("1", datetime(2017, 7, 14, 2, 40, 1, tzinfo=UTC)),
    }


def test_participants_votes_of_a_real_export_give_the_same_latest_votes(tmp_path: Path) -> None:
    directory = tmp_path / "seattle"
    shutil.copytree(SEATTLE, directory, ignore=shutil.ignore_patterns("votes.csv"))
    from_matrix = polis_import(directory=directory, slug="matrix").conversation
    from_events = polis_import(directory=SEATTLE, slug="events").conversation
    assert latest_votes(from_matrix) == latest_votes(from_events)
    again = polis_import(directory=directory, slug="matrix")
    assert (again.vote_events_added, again.votes_written) == (0, 0)


def test_two_comments_with_the_same_text_are_both_kept_with_a_warning(tmp_path: Path) -> None:
    comments = COMMENTS + "1500000003000,,5,2,0,0,1,  add a LANE on   main street. \n"
    votes = VOTES + "1500000040000,,5,0,-1\n"
    result = polis_import(
        directory=write_export(tmp_path, {"comments.csv": comments, "votes.csv": votes}),
        slug="bikes",
    )
    assert result.warnings == (
        f"{tmp_path}/comments.csv:5: comment 5 has the same text as comment 0 (ignoring case "
        "and spacing); imported it as a separate statement so neither it nor its votes are lost",
    )
    twins = Statement.objects.filter(conversation=result.conversation, external_id__in=["0", "5"])
    assert sorted(twins.values_list("external_id", "text")) == [
        ("0", "Add a lane on Main Street."),
        ("5", "add a LANE on   main street."),
    ]
    assert latest_votes(result.conversation)[("0", "5")] == -1
    # The original keeps the plain key, so a participant typing the text again is told it
    # is a duplicate of it.
    original = Statement.objects.get(conversation=result.conversation, external_id="0")
    assert original.text_key == normalize_statement_text("Add a lane on Main Street.")
    again = polis_import(directory=tmp_path, slug="bikes")
    assert (again.statements_added, again.warnings) == (0, ())


def test_a_comment_matching_an_existing_statement_is_kept_with_a_warning(tmp_path: Path) -> None:
    conversation = ConversationFactory.create(slug="bikes")
    statement_create(conversation=conversation, text="Ban cars DOWNTOWN.")
    result = polis_import(directory=write_export(tmp_path, {}), slug="bikes")
    assert len(result.warnings) == 1
    assert "comment 1 has the same text as statement" in result.warnings[0]
    assert Statement.objects.filter(conversation=conversation).count() == 4


def test_comments_that_cannot_be_statements_are_imported_as_rejected_with_their_votes(
    tmp_path: Path,
) -> None:
    long_body = "Lanes on every street. " * 30
    comments = (
        COMMENTS
        + '1500000003000,,3,1,0,0,-1,""\n'
        + '1500000004000,,4,1,0,0,-1,"\u200b\u200f"\n'
        + f"1500000005000,,5,2,0,0,1,{long_body}\n"
        + "1500000006000,,6,2,0,0,1,Ring\x07 the bell.\n"
    )
    votes = VOTES + "1500000040000,,3,0,1\n1500000041000,,5,1,-1\n1500000042000,,6,2,1\n"

    result = polis_import(
        directory=write_export(tmp_path, {"comments.csv": comments, "votes.csv": votes}),
        slug="bikes",
    )

    assert (result.statements_added, result.statements_rejected_on_import) == (7, 4)
    rows = dict(
        Statement.objects.filter(
            conversation=result.conversation, external_id__gte="3"
        ).values_list("external_id", "status")
    )
    assert rows == {str(n): StatementStatus.REJECTED for n in (3, 4, 5, 6)}
    texts = dict(
        Statement.objects.filter(external_id__in=["3", "5", "6"]).values_list("external_id", "text")
    )
    assert texts == {
        "3": polis_import_module.EMPTY_COMMENT_TEXT,
        "5": long_body.strip()[:500],
        "6": "Ring the bell.",
    }
    assert [warning.split(": ", 1)[1] for warning in result.warnings] == [
        "comment 3: A statement cannot be empty. Imported it as rejected, with a placeholder text.",
        "comment 4: A statement cannot be empty. Imported it as rejected, with a placeholder text.",
        f"comment 5: A statement can be at most 500 characters (this one has "
        f"{len(long_body.strip())}). Imported it as rejected, cut to 500 characters.",
        "comment 6: A statement cannot contain control characters (U+0007 at character 5). "
        "Imported it as rejected, without them.",
    ]
    votes_now = latest_votes(result.conversation)
    assert (votes_now[("0", "3")], votes_now[("1", "5")], votes_now[("2", "6")]) == (1, -1, 1)
    again = polis_import(directory=tmp_path, slug="bikes")
    assert (again.statements_added, again.statements_rejected_on_import, again.warnings) == (
        0,
        0,
        (),
    )


def test_twin_keys_stay_within_the_column_for_the_longest_texts(tmp_path: Path) -> None:
    body = "ﬃ" * 500  # its key is three times as long
    comments = (
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
        f"1500000000000,,0,0,0,0,1,{body}\n"
        f"1500000001000,,1,0,0,0,1,{body}\n"
    )
    votes = "timestamp,datetime,comment-id,voter-id,vote\n"
    conversation = polis_import(
        directory=write_export(tmp_path, {"comments.csv": comments, "votes.csv": votes}),
        slug="bikes",
    ).conversation
    keys = Statement.objects.filter(conversation=conversation).values_list("text_key", flat=True)
    assert len(set(keys)) == 2
    assert all(len(key) <= STATEMENT_KEY_MAX_LENGTH for key in keys)
    assert max(len(key) for key in keys) == STATEMENT_KEY_MAX_LENGTH


def test_imported_participants_are_marked_so_no_link_can_claim_them(tmp_path: Path) -> None:
    conversation = polis_import(directory=write_export(tmp_path, {}), slug="bikes").conversation
    participants = Participant.objects.filter(conversation=conversation)
    assert participants.exists()
    assert not participants.filter(imported=False).exists()


def test_existing_participants_with_the_same_xid_are_reused(tmp_path: Path) -> None:
    conversation = ConversationFactory.create(slug="bikes")
    existing = ParticipantFactory.create(conversation=conversation, session_key="", xid="1")
    polis_import(directory=write_export(tmp_path, {}), slug="bikes")
    assert Participant.objects.filter(conversation=conversation, xid="1").get() == existing
    assert Vote.objects.filter(participant=existing).count() == 1


def test_a_failure_while_writing_rolls_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_export(tmp_path, {})
    StatementFactory.create()
    counts = row_counts()

    def fail(**_: object) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(polis_import_module, "_votes_update", fail)
    with pytest.raises(RuntimeError):
        polis_import(directory=directory, slug="bikes")
    assert row_counts() == counts


@pytest.mark.parametrize(
    ("slug", "topic", "visibility", "message"),
    [
        ("no spaces", None, "public", "not a valid slug"),
        ("bikes", "x" * 301, "public", "The topic can be at most 300 characters"),
        ("bikes", None, "secret", "Visibility must be one of"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, slug: str, topic: str | None, visibility: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        polis_import(
            directory=write_export(tmp_path, {}), slug=slug, topic=topic, visibility=visibility
        )
    assert not Conversation.objects.exists()
