"""Importing a Polis export folder into a conversation.

The import only ever adds: participants and statements missing from the conversation, vote
events not yet logged, and latest votes that are newer than what the conversation holds.
What is already there (a statement's moderation, a conversation's topic) is left alone, so
running an import twice changes nothing and a moderator's later decisions survive a
re-import of a newer export.
"""

import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, connection, transaction

from clustering.polis_export import COMMENTS_FILE, SUMMARY_FILE, PolisComment, PolisExport
from deliberation.errors import Conflict, InvalidInput
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
from deliberation.models.conversations import STATEMENT_KEY_MAX_LENGTH, STATEMENT_MAX_LENGTH
from deliberation.polis_format import PolisFormatError, ms_to_datetime, polis_read
from deliberation.services.conversation_setup import (
    ConversationSettings,
    conversation_settings_clean,
)
from deliberation.services.statements import statement_clean_text
from deliberation.services.text import text_is_visible, text_remove_unstorable

BATCH_SIZE = 5000
_STATUS_BY_MODERATED = {
    1: StatementStatus.ACCEPTED,
    0: StatementStatus.PENDING,
    -1: StatementStatus.REJECTED,
}
_SLUG_MAX_LENGTH = Conversation._meta.get_field("slug").max_length or 100
# Polis's ids are 64-bit: a larger one cannot be a Polis id, and would overflow Agora's columns.
MAX_ID = 2**63 - 1
# The text of a comment Polis exported empty (a statement's text cannot be).
EMPTY_COMMENT_TEXT = "(This comment was empty in the Polis export.)"


@dataclass(frozen=True)
class PolisImportResult:
    conversation: Conversation
    created: bool
    votes_file: str
    participants_added: int
    statements_added: int
    # Comments that could not be statements as exported (empty, too long, control
    # characters): added, as rejected, with a warning each.
    statements_rejected_on_import: int
    vote_events_added: int
    votes_written: int
    warnings: tuple[str, ...]


def polis_import(
    *,
    directory: Path,
    slug: str,
    topic: str | None = None,
    visibility: str = Visibility.PUBLIC,
) -> PolisImportResult:
    """Import the export in ``directory`` into the conversation ``slug``, creating it (strict
    moderation, ``visibility``) when it does not exist yet. An existing conversation keeps
    its settings.

    Every file is read and validated before the first write, and the writes share one
    transaction: a malformed folder raises PolisFormatError (an InvalidInput naming the file
    and line) and leaves the database exactly as it was. ``topic`` overrides the export's.
    """
    try:
        validate_slug(slug)
    except ValidationError:
        raise InvalidInput(
            f"{slug!r} is not a valid slug (letters, digits, hyphens, underscores).",
            field="slug",
        ) from None
    if len(slug) > _SLUG_MAX_LENGTH:
        raise InvalidInput(f"A slug can be at most {_SLUG_MAX_LENGTH} characters.", field="slug")
    export = polis_read(directory)
    _refuse_out_of_range_ids(export)
    try:
        settings = conversation_settings_clean(
            ConversationSettings(
                topic=topic or export.topic,
                description=export.description,
                moderation_mode=ModerationMode.STRICT,
                visibility=visibility,
            )
        )
    except InvalidInput as error:
        if error.field == "description" or (error.field == "topic" and not topic):
            # The faulty value came from the export: say which file.
            raise PolisFormatError(export.path(SUMMARY_FILE), None, error.message) from None
        raise
    try:
        with transaction.atomic():
            return _import(export=export, slug=slug, settings=settings)
    except IntegrityError:
        # Race: a participant added a statement with the same text as an imported comment,
        # or another import created this conversation, between our reads and our inserts.
        raise Conflict(
            f"Conversation {slug!r} changed while it was being imported; nothing was "
            "imported. Run the import again."
        ) from None


def _import(*, export: PolisExport, slug: str, settings: ConversationSettings) -> PolisImportResult:
    # Race: two imports into one conversation at once would each add the rows the other is
    # adding. The row lock makes the second wait and then see the first one's rows.
    conversation = Conversation.objects.select_for_update().filter(slug=slug).first()
    created = conversation is None
    if conversation is None:
        conversation = Conversation.objects.create(slug=slug, **asdict(settings))
    participant_ids, participants_added = _participants_add(
        conversation=conversation, export=export
    )
    statement_ids, statements_added, statements_rejected, warnings = _statements_add(
        conversation=conversation, export=export, participant_ids=participant_ids
    )
    events = _events(export=export, participant_ids=participant_ids, statement_ids=statement_ids)
    logged_before = _vote_event_last_id(conversation)
    vote_events_added = _vote_events_add(conversation=conversation, events=events)
    votes_written = _votes_update(conversation=conversation, logged_after=logged_before)
    return PolisImportResult(
        conversation=conversation,
        created=created,
        votes_file=export.votes_file,
        participants_added=participants_added,
        statements_added=statements_added,
        statements_rejected_on_import=statements_rejected,
        vote_events_added=vote_events_added,
        votes_written=votes_written,
        warnings=tuple(warnings),
    )


def _refuse_out_of_range_ids(export: PolisExport) -> None:
    for comment in export.comments:
        for column, value in (("comment-id", comment.comment_id), ("author-id", comment.author_id)):
            if value is not None and value > MAX_ID:
                raise PolisFormatError(
                    export.path(COMMENTS_FILE),
                    comment.line,
                    f"{column} must be at most {MAX_ID}, got {value}",
                )


def _participant_xids(conversation: Conversation) -> dict[str, int]:
    rows = Participant.objects.filter(conversation=conversation).values_list("xid", "id")
    return {xid: pk for xid, pk in rows if xid is not None}


def _participants_add(
    *, conversation: Conversation, export: PolisExport
) -> tuple[dict[int, int], int]:
    """Polis participant id → participant database id, adding the missing ones (voters and
    authors), and how many were added. Polis ids become ``xid``s, marked imported so no
    link can ever claim them."""
    polis_ids = set(export.votes.voter_ids.tolist())
    polis_ids.update(c.author_id for c in export.comments if c.author_id is not None)
    existing = _participant_xids(conversation)
    missing = sorted(polis_id for polis_id in polis_ids if str(polis_id) not in existing)
    if missing:
        # Race: someone may give a participant one of these xids meanwhile (the API's
        # participant_get_or_create); ON CONFLICT DO NOTHING on participant_unique_xid keeps
        # one participant per xid and the re-read below picks whichever row won.
        Participant.objects.bulk_create(
            [
                Participant(conversation=conversation, xid=str(polis_id), imported=True)
                for polis_id in missing
            ],
            batch_size=BATCH_SIZE,
            ignore_conflicts=True,
        )
    by_xid = _participant_xids(conversation) if missing else existing
    ids = {polis_id: by_xid[str(polis_id)] for polis_id in polis_ids}
    return ids, len(by_xid) - len(existing)


def _disambiguated_text_key(text_key: str, external_id: str) -> str:
    """A text key for a statement whose text another statement of its conversation already
    has (ignoring case and spacing).

    Polis allows such twins, but Agora's unique (conversation, text_key) constraint would
    refuse the second one and its votes would be lost. The suffix starts with a newline,
    which normalize_statement_text never leaves in a key, so the result cannot collide with
    any ordinary key; the external id is unique per conversation, so it cannot collide with
    another twin either.
    """
    suffix = f"\nexternal id {external_id}"
    return text_key[: STATEMENT_KEY_MAX_LENGTH - len(suffix)] + suffix


def _comment_text(comment: PolisComment) -> tuple[str, str | None]:
    """The comment's text as a statement, and, when it could not be one as exported, why
    and what was done (the statement is then imported as rejected).

    Polis exports what its moderators kept out, empty and over-long comments included; a
    researcher importing the export must still get the rest, and these comments' votes.
    """
    try:
        return statement_clean_text(comment.body), None
    except InvalidInput as refusal:
        problem = refusal.message
    kept = text_remove_unstorable(unicodedata.normalize("NFC", comment.body)).strip()
    if not text_is_visible(kept):
        return EMPTY_COMMENT_TEXT, f"{problem} Imported it as rejected, with a placeholder text."
    if len(kept) > STATEMENT_MAX_LENGTH:
        kept = kept[:STATEMENT_MAX_LENGTH].strip()
        return kept, (
            f"{problem} Imported it as rejected, cut to {STATEMENT_MAX_LENGTH} characters."
        )
    return kept, f"{problem} Imported it as rejected, without them."


def _statements_add(
    *, conversation: Conversation, export: PolisExport, participant_ids: dict[int, int]
) -> tuple[dict[int, int], int, int, list[str]]:
    """Polis comment id → statement database id, adding the comments not imported yet (those
    whose comment id is no statement's external id), their count, how many of them were
    rejected because they could not be statements as exported, and warnings."""
    existing = list(
        Statement.objects.filter(conversation=conversation).values_list(
            "id", "external_id", "text_key"
        )
    )
    by_external_id = {external: pk for pk, external, _ in existing if external is not None}
    key_holders = {
        key: f"statement {external if external is not None else pk}"
        for pk, external, key in existing
    }
    warnings: list[str] = []
    added: list[Statement] = []
    rejected = 0
    for comment in sorted(export.comments, key=lambda comment: comment.comment_id):
        external_id = str(comment.comment_id)
        if external_id in by_external_id:
            continue
        text, problem = _comment_text(comment)
        status = _STATUS_BY_MODERATED[comment.moderated]
        if problem is not None:
            warnings.append(
                f"{export.path(COMMENTS_FILE)}:{comment.line}: comment {external_id}: {problem}"
            )
            status = StatementStatus.REJECTED
            rejected += 1
        text_key = normalize_statement_text(text)
        # A rejected comment's warning is said already (and every empty one has the same
        # placeholder): a twin of it needs its own key, not a second warning.
        if text_key in key_holders and problem is None:
            warnings.append(
                f"{export.path(COMMENTS_FILE)}:{comment.line}: comment {external_id} has the "
                f"same text as {key_holders[text_key]} (ignoring case and spacing); "
                "imported it as a separate statement so neither it nor its votes are lost"
            )
        if text_key in key_holders:
            text_key = _disambiguated_text_key(text_key, external_id)
        key_holders[text_key] = f"comment {external_id}"
        added.append(
            Statement(
                conversation=conversation,
                text=text,
                # bulk_create skips Statement.save(), which is what fills text_key.
                text_key=text_key,
                external_id=external_id,
                author_participant_id=(
                    participant_ids[comment.author_id] if comment.author_id is not None else None
                ),
                status=status,
                is_meta=comment.is_meta,
                is_seed=comment.is_seed,
                created_at=ms_to_datetime(comment.created_ms),
            )
        )
    Statement.objects.bulk_create(added, batch_size=BATCH_SIZE)
    by_external_id.update({str(statement.external_id): statement.pk for statement in added})
    ids = {
        comment.comment_id: by_external_id[str(comment.comment_id)] for comment in export.comments
    }
    return ids, len(added), rejected, warnings


_Event = tuple[int, int, datetime, int]  # participant id, statement id, time, value


def _events(
    *, export: PolisExport, participant_ids: dict[int, int], statement_ids: dict[int, int]
) -> list[_Event]:
    """The export's vote events in database terms, earliest first (ties in file order)."""
    votes = export.votes
    order = votes.chronological()
    moments: dict[int, datetime] = {}
    events: list[_Event] = []
    for voter_id, comment_id, milliseconds, value in zip(
        votes.voter_ids[order].tolist(),
        votes.comment_ids[order].tolist(),
        votes.created_ms[order].tolist(),
        votes.values[order].tolist(),
        strict=True,
    ):
        moment = moments.get(milliseconds)
        if moment is None:
            moment = moments[milliseconds] = ms_to_datetime(milliseconds)
        events.append((participant_ids[voter_id], statement_ids[comment_id], moment, value))
    return events


def _vote_event_last_id(conversation: Conversation) -> int:
    """The id of the conversation's latest logged event (0 for none); the import's own events
    all get larger ids."""
    last = VoteEvent.objects.filter(conversation=conversation).order_by("-id").first()
    return last.pk if last is not None else 0


def _vote_events_add(*, conversation: Conversation, events: list[_Event]) -> int:
    """Log the events the conversation has not logged yet; how many were new.

    An event is "already logged" when the log holds one with the same participant,
    statement, time and value; counted as a multiset, so an export that really holds two
    identical events keeps both.
    """
    logged = Counter(
        VoteEvent.objects.filter(conversation=conversation).values_list(
            "participant_id", "statement_id", "created_at", "value"
        )
    )
    new: list[_Event] = []
    for event in events:
        if logged[event] > 0:
            logged[event] -= 1
        else:
            new.append(event)
    _vote_events_insert(conversation=conversation, events=new)
    return len(new)


_EVENT_FIELDS = ("participant_id", "statement_id", "created_at", "value")


def _vote_events_insert(*, conversation: Conversation, events: list[_Event]) -> None:
    """Insert events in list order (ids follow it: _votes_update breaks ties by id).

    On PostgreSQL through COPY: bulk_create builds a model instance and prepares every field
    of every row in Python, which made it two thirds of a large import's time (vtaiwan.uberx,
    50,000 events); COPY streams the rows several times faster. Every row starts from one
    prototype instance, so columns the import does not set (a field added later, the
    reason) get the model's defaults as bulk_create would give them.
    """
    if connection.vendor != "postgresql":
        VoteEvent.objects.bulk_create(
            [
                VoteEvent(conversation=conversation, **dict(zip(_EVENT_FIELDS, event, strict=True)))
                for event in events
            ],
            batch_size=BATCH_SIZE,
        )
        return
    fields = [field for field in VoteEvent._meta.concrete_fields if not field.primary_key]
    prototype = VoteEvent(conversation=conversation)
    row = [getattr(prototype, field.attname) for field in fields]
    positions = [[field.attname for field in fields].index(name) for name in _EVENT_FIELDS]
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    table = connection.ops.quote_name(VoteEvent._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for event in events:
            for position, value in zip(positions, event, strict=True):
                row[position] = value
            copy.write_row(row)


def _votes_update(*, conversation: Conversation, logged_after: int) -> int:
    """Set each (participant, statement)'s vote to its latest event logged after event id
    ``logged_after``, where that event is newer than the vote; how many votes were written.

    One INSERT ... SELECT rather than bulk_create(update_conflicts=True): the update must
    only happen when the event is newer than the vote, which bulk_create cannot say, and the
    rows never travel through Python (most of a large import's time otherwise).
    """
    vote = Vote._meta.db_table
    event = VoteEvent._meta.db_table
    # Race: a participant may vote on one of these statements meanwhile. ON CONFLICT on
    # vote_unique keeps one row per (participant, statement), and the WHERE keeps whichever
    # vote is the most recent, so an import of old votes never overwrites a newer one.
    sql = f"""
        INSERT INTO {vote} (conversation_id, participant_id, statement_id, value, reason,
                            updated_at)
        SELECT conversation_id, participant_id, statement_id, value, '', created_at
        FROM (
            SELECT conversation_id, participant_id, statement_id, value, created_at,
                   ROW_NUMBER() OVER (
                       PARTITION BY participant_id, statement_id
                       ORDER BY created_at DESC, id DESC
                   ) AS recency
            FROM {event}
            WHERE conversation_id = %s AND id > %s
        ) AS latest
        WHERE recency = 1
        ON CONFLICT (participant_id, statement_id) DO UPDATE
        SET value = excluded.value, reason = excluded.reason, updated_at = excluded.updated_at
        WHERE {vote}.updated_at < excluded.updated_at
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [conversation.pk, logged_after])
        return cursor.rowcount
