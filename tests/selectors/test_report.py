import csv
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from pytest_django import DjangoAssertNumQueries

from deliberation.errors import InvalidInput, NotFound, PermissionDenied
from deliberation.models import (
    Conversation,
    ReportVisibility,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    Visibility,
    VoteEvent,
)
from deliberation.selectors.report import (
    DEFAULT_SORT,
    SORTS,
    StatementRow,
    participation_timeline,
    report_build,
    report_conversation_get,
    report_freshness,
    report_is_indexable,
    report_snapshot_get,
    report_sort_clean,
)
from deliberation.services.assistant import assistant_summarize
from deliberation.services.moderation import statement_decide
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory, UserFactory
from tests.report.real_data import POLIS_DATA, SEATTLE, cluster, import_and_cluster

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)


def _events(conversation: Conversation, moments: list[tuple[int, timedelta]]) -> None:
    """One vote event per (participant number, time after START)."""
    statement = StatementFactory.create(conversation=conversation)
    people = {n: ParticipantFactory.create(conversation=conversation) for n, _ in moments}
    VoteEvent.objects.bulk_create(
        VoteEvent(
            conversation=conversation,
            participant=people[n],
            statement=statement,
            value=1,
            created_at=START + after,
        )
        for n, after in moments
    )


def test_timeline_counts_votes_and_first_arrivals_per_hour_for_a_short_conversation() -> None:
    conversation = ConversationFactory.create()
    _events(
        conversation,
        [
            (1, timedelta(0)),
            (1, timedelta(minutes=10)),
            (2, timedelta(hours=2)),
            (1, timedelta(hours=2)),
        ],
    )
    last = VoteEvent.objects.order_by("-id").first()
    assert last is not None

    timeline = participation_timeline(conversation=conversation, watermark=last.pk)

    assert timeline.unit == "hour"
    assert [(p.votes, p.new_participants, p.participants_so_far) for p in timeline.periods] == [
        (2, 1, 1),
        (0, 0, 1),
        (2, 1, 2),
    ]
    assert timeline.participants == 2 and timeline.vote_events == 4


def test_timeline_stops_at_the_watermark_and_widens_to_weeks_for_long_conversations() -> None:
    conversation = ConversationFactory.create()
    _events(conversation, [(1, timedelta(0)), (2, timedelta(days=200)), (3, timedelta(days=400))])
    second = VoteEvent.objects.order_by("id")[1]

    timeline = participation_timeline(conversation=conversation, watermark=second.pk)

    assert timeline.unit == "week"
    assert timeline.participants == 2 and timeline.vote_events == 2
    assert all(p.start.weekday() == 0 for p in timeline.periods)
    assert sum(p.votes for p in timeline.periods) == 2
    assert timeline.periods[-1].participants_so_far == 2


def test_timeline_of_a_conversation_without_votes_is_empty() -> None:
    timeline = participation_timeline(conversation=ConversationFactory.create(), watermark=10**9)
    assert timeline.periods == [] and timeline.participants == 0


@pytest.mark.parametrize(
    ("visibility", "report_visibility", "who", "sees"),
    [
        (Visibility.PUBLIC, ReportVisibility.PUBLIC, "anonymous", True),
        (Visibility.UNLISTED, ReportVisibility.PUBLIC, "anonymous", True),
        (Visibility.PRIVATE, ReportVisibility.PUBLIC, "anonymous", False),
        (Visibility.PRIVATE, ReportVisibility.PUBLIC, "stranger", False),
        (Visibility.PRIVATE, ReportVisibility.PUBLIC, "moderator", True),
        (Visibility.PRIVATE, ReportVisibility.PUBLIC, "owner", True),
        (Visibility.PUBLIC, ReportVisibility.MODERATORS, "anonymous", False),
        (Visibility.PUBLIC, ReportVisibility.MODERATORS, "moderator", True),
    ],
)
def test_report_visibility_follows_the_conversation_and_its_report_setting(
    visibility: str, report_visibility: str, who: str, sees: bool
) -> None:
    conversation = ConversationFactory.create(
        visibility=visibility, report_visibility=report_visibility
    )
    moderator = UserFactory.create()
    conversation.moderators.add(moderator)
    users: dict[str, AbstractBaseUser | AnonymousUser | None] = {
        "anonymous": AnonymousUser(),
        "stranger": UserFactory.create(),
        "moderator": moderator,
        "owner": conversation.owner,
    }
    user = users[who]

    if sees:
        assert report_conversation_get(slug=conversation.slug, user=user) == conversation
    else:
        with pytest.raises((NotFound, PermissionDenied)):
            report_conversation_get(slug=conversation.slug, user=user)


def test_a_private_conversations_report_looks_missing_rather_than_forbidden() -> None:
    conversation = ConversationFactory.create(visibility=Visibility.PRIVATE)
    with pytest.raises(NotFound):
        report_conversation_get(slug=conversation.slug, user=AnonymousUser())


def test_an_after_close_report_opens_when_the_conversation_closes() -> None:
    conversation = ConversationFactory.create(report_visibility=ReportVisibility.AFTER_CLOSE)
    with pytest.raises(PermissionDenied, match="once it closes"):
        report_conversation_get(slug=conversation.slug, user=AnonymousUser())

    conversation.is_open = False
    conversation.save()

    assert report_conversation_get(slug=conversation.slug, user=AnonymousUser()) == conversation


def test_operators_commands_read_any_report_but_not_a_missing_one() -> None:
    conversation = ConversationFactory.create(
        visibility=Visibility.PRIVATE, report_visibility=ReportVisibility.MODERATORS
    )
    assert report_conversation_get(slug=conversation.slug, user=None, trusted=True) == conversation
    with pytest.raises(NotFound):
        report_conversation_get(slug="no-such-thing", user=None, trusted=True)


@pytest.mark.parametrize(
    ("visibility", "indexable"),
    [(Visibility.PUBLIC, True), (Visibility.UNLISTED, False), (Visibility.PRIVATE, False)],
)
def test_only_public_reports_are_indexable(visibility: str, indexable: bool) -> None:
    conversation = ConversationFactory.create(visibility=visibility)
    assert report_is_indexable(conversation=conversation) is indexable


def test_sort_defaults_to_consensus_and_refuses_unknown_orders() -> None:
    assert report_sort_clean(None) == report_sort_clean("") == DEFAULT_SORT
    assert all(report_sort_clean(key) == key for key in SORTS)
    with pytest.raises(InvalidInput, match="sorted by"):
        report_sort_clean("popularity")


def test_snapshot_lookup_takes_the_latest_succeeded_or_the_one_asked_for() -> None:
    conversation = ConversationFactory.create()
    assert report_snapshot_get(conversation=conversation) is None
    old = Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.SUCCEEDED)
    new = Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.SUCCEEDED)
    failed = Snapshot.objects.create(conversation=conversation, status=SnapshotStatus.FAILED)
    elsewhere = Snapshot.objects.create(
        conversation=ConversationFactory.create(), status=SnapshotStatus.SUCCEEDED
    )

    assert report_snapshot_get(conversation=conversation) == new
    assert report_snapshot_get(conversation=conversation, snapshot_id=old.pk) == old
    for missing in (failed.pk, elsewhere.pk, "abc"):
        with pytest.raises(NotFound):
            report_snapshot_get(conversation=conversation, snapshot_id=missing)


def test_report_of_a_real_conversation_matches_its_snapshot() -> None:
    clustered = import_and_cluster(slug="seattle")
    snapshot, results = clustered.snapshot, clustered.snapshot.results
    assert results is not None

    report = report_build(conversation=clustered.conversation, snapshot=snapshot)

    assert report.is_latest
    assert report.participation.participants == snapshot.n_participants
    assert report.participation.participants_in_groups == snapshot.n_in_conv
    assert report.participation.votes == snapshot.n_votes
    assert report.participation.statements == snapshot.n_statements
    # The vote log behind the chart is the export's votes.csv, one row per event.
    with (POLIS_DATA / SEATTLE / "votes.csv").open() as votes_file:
        assert report.participation.timeline.vote_events == sum(
            1 for _ in csv.DictReader(votes_file)
        )
    assert [(g.group_id, g.size) for g in report.groups] == [
        (g["id"], g["size"]) for g in results["groups"]
    ]
    assert sum(g.size for g in report.groups) == snapshot.n_in_conv
    assert report.methodology.k == snapshot.k and len(report.groups) == snapshot.k
    assert report.methodology.imported


def test_representative_statements_resolve_to_real_accepted_statements_with_their_votes() -> None:
    clustered = import_and_cluster(slug="seattle")
    results = clustered.snapshot.results
    assert results is not None

    report = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)

    for group, stored in zip(report.groups, results["groups"], strict=True):
        assert group.representative, f"{group.label} has no representative statement"
        assert [r.statement.id for r in group.representative] == [
            int(r["statement"]) for r in stored["representative"]
        ]
        for rep in group.representative:
            statement = Statement.objects.get(pk=rep.statement.id)
            assert statement.conversation == clustered.conversation
            assert statement.status == StatementStatus.ACCEPTED
            assert rep.statement.text == statement.text
            tallies = results["statements"][str(statement.pk)]["groups"]
            assert {g.group_id: (g.agree, g.disagree, g.passes) for g in rep.statement.groups} == {
                int(gid): (t["agree"], t["disagree"], t["pass"]) for gid, t in tallies.items()
            }


def test_shared_lists_follow_the_metrics_and_their_thresholds() -> None:
    clustered = import_and_cluster(slug="seattle")

    report = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)

    def values(rows: list[StatementRow], metric: str) -> list[float]:
        return [getattr(row, metric) for row in rows]

    assert values(report.consensus, "consensus") == sorted(
        values(report.consensus, "consensus"), reverse=True
    )
    top_consensus = max(r.consensus for r in report.statements if not r.is_meta and r.consensus)
    assert report.consensus[0].consensus == top_consensus
    assert values(report.bridging, "bridging") == sorted(
        values(report.bridging, "bridging"), reverse=True
    )
    assert all((row.divisiveness or 0) >= 0.3 for row in report.divisive)
    threshold = report.methodology.uncertain_threshold
    assert threshold >= 0.2
    assert all((row.uncertainty or 0) > threshold for row in report.uncertain)
    for row in report.statements:
        assert row.bridging == pytest.approx(min(g.p or 0.0 for g in row.groups))


def test_statements_table_sorts_every_way_and_hides_rejected_statements() -> None:
    clustered = import_and_cluster(slug="seattle")
    rejected = Statement.objects.filter(
        conversation=clustered.conversation, status=StatementStatus.REJECTED
    ).values_list("pk", flat=True)
    assert rejected, "the Seattle export has moderated-out comments"

    for sort in SORTS:
        report = report_build(
            conversation=clustered.conversation, snapshot=clustered.snapshot, sort=sort
        )
        keys = [row.sort_key(sort) for row in report.statements]
        assert keys == sorted(keys, reverse=True), sort
        assert not set(rejected) & {row.id for row in report.statements}


def test_a_statement_rejected_after_the_snapshot_disappears_from_its_report() -> None:
    clustered = import_and_cluster(slug="seattle")
    report = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)
    victim = report.consensus[0]
    Statement.objects.filter(pk=victim.id).update(status=StatementStatus.REJECTED)

    again = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)

    assert victim.id not in {row.id for row in again.statements}
    assert victim.id not in {row.id for row in again.consensus}


def test_freshness_is_one_query_and_changes_with_a_moderators_decision(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    clustered = import_and_cluster(slug="seattle")
    moderator = UserFactory.create()
    clustered.conversation.moderators.add(moderator)

    with django_assert_num_queries(1):
        before = report_freshness(conversation=clustered.conversation, snapshot=clustered.snapshot)
    statement = clustered.conversation.statements.filter(status=StatementStatus.ACCEPTED).first()
    assert statement is not None
    statement_decide(actor=moderator, statement=statement, decision="reject")

    after = report_freshness(conversation=clustered.conversation, snapshot=clustered.snapshot)
    assert after != before


def test_a_frozen_report_knows_a_newer_snapshot_exists() -> None:
    clustered = import_and_cluster(slug="seattle")
    newer = cluster(clustered.conversation)

    old = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)
    latest = report_build(conversation=clustered.conversation, snapshot=newer)

    assert not old.is_latest and latest.is_latest
    assert Counter(row.id for row in old.statements) == Counter(row.id for row in latest.statements)


def test_group_summaries_cite_real_statements_shown_with_their_votes() -> None:
    clustered = import_and_cluster(slug="seattle")
    stored = assistant_summarize(snapshot=clustered.snapshot)

    report = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)

    assert [g.summary is not None for g in report.groups] == [True] * len(report.groups)
    for group, stored_group in zip(report.groups, stored.groups, strict=True):
        assert group.summary is not None
        assert [s.text for s in group.summary.sentences] == [
            s["text"] for s in stored_group["sentences"]
        ]
        for sentence, stored_sentence in zip(
            group.summary.sentences, stored_group["sentences"], strict=True
        ):
            assert [row.display_id for row in sentence.citations] == stored_sentence["citations"]
            assert not sentence.missing
            for row in sentence.citations:
                statement = Statement.objects.get(
                    conversation=clustered.conversation, external_id=row.display_id
                )
                assert row.text == statement.text and row.groups
    assert report.overview is not None


def test_moderation_counts_come_from_the_audit_log() -> None:
    clustered = import_and_cluster(slug="seattle")
    statement = clustered.conversation.statements.filter(status=StatementStatus.ACCEPTED).first()
    assert statement is not None
    moderator = UserFactory.create()
    clustered.conversation.moderators.add(moderator)
    statement_decide(actor=moderator, statement=statement, decision="reject")

    report = report_build(conversation=clustered.conversation, snapshot=clustered.snapshot)

    assert ("Statement rejected", 1) in report.methodology.moderation
