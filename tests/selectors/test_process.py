"""Process figures over constructed histories whose values are known by hand."""

import dataclasses

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deliberation.models import Snapshot, StatementStatus
from deliberation.selectors.process import minority_voices, opinion_change, process_series
from deliberation.selectors.report import report_build
from tests.factories import ParticipantFactory
from tests.snapshot_data import clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db

# In two_camps, camp A votes -1 on even statements and +1 on odd ones, camp B the opposite,
# and both agree with the last statement. With 12 people a camp, a split statement has group
# agreements 13/14 and 1/14, a shared one 13/14 in both.
SPLIT = 13 / 14 - 1 / 14


def test_a_converging_conversation_shows_falling_polarization_and_rising_common_ground() -> None:
    camps = two_camps()
    first = clustered(camps)
    # Camp B comes round to camp A's agreement on the odd statements (1, 3, 5).
    votes_write([(p, camps.statements[i], 1) for p in camps.camp_b for i in (1, 3, 5)])
    second = clustered(camps)
    series = process_series(conversation=camps.conversation, snapshot=second)
    assert [p.snapshot_id for p in series.points] == [first.pk, second.pk]
    assert [p.k for p in series.points] == [2, 2]
    # Split on 7 of 8 equally voted statements, then on 4 of 8 (0, 2, 4, 6).
    assert series.points[0].polarization == pytest.approx(7 / 8 * SPLIT)
    assert series.points[1].polarization == pytest.approx(4 / 8 * SPLIT)
    assert [p.common_ground for p in series.points] == [pytest.approx(1 / 8), 0.5]
    # Early: statements 0-3 (split at the median id); late: 4-7.
    assert series.split_statement_id == camps.statements[3].pk
    assert (series.points[0].early, series.points[0].late) == (0.0, 0.25)
    assert (series.points[1].early, series.points[1].late) == (0.5, 0.5)
    assert (
        series.readings["polarization"] == "Polarization fell from 0.75 to 0.43 over 2 snapshots."
    )
    assert series.readings["common_ground"] == (
        "The share of statements on common ground rose from 12% to 50% over 2 snapshots."
    )
    # A frozen report's series stops at its snapshot.
    assert len(process_series(conversation=camps.conversation, snapshot=first).points) == 1


def test_a_long_history_is_sampled_keeping_the_first_and_last_snapshots() -> None:
    camps = two_camps()
    ids = [clustered(camps).pk for _ in range(3)]
    series = process_series(
        conversation=camps.conversation, snapshot=Snapshot.objects.get(pk=ids[-1]), max_points=2
    )
    assert series.snapshots == 3
    assert [p.snapshot_id for p in series.points] == [ids[0], ids[-1]]

    # A finished snapshot's figures are read from its results once, then from the cache.
    last = Snapshot.objects.get(pk=ids[-1])
    with CaptureQueriesContext(connection) as queries:
        again = process_series(conversation=camps.conversation, snapshot=last, max_points=2)
    assert again == series
    assert not any('"results"' in q["sql"] for q in queries)


def test_changed_votes_are_counted_with_their_direction_towards_the_other_group() -> None:
    camps = two_camps()
    s = camps.statements
    # Someone of camp A's mind who first agreed with statement 0 (camp B's side), then took
    # camp A's disagree: away from the other group.
    drifter = ParticipantFactory.create(conversation=camps.conversation)
    votes_write([(drifter, s[0], 1)])
    votes_write([(drifter, st, 1 if i == 7 else (1 if i % 2 else -1)) for i, st in enumerate(s)])
    # A member of A moves to agree on statement 0 (towards B); a member of B moves from
    # disagree to pass on statement 1 (towards A's agree).
    votes_write([(camps.camp_a[0], s[0], 1), (camps.camp_b[0], s[1], 0)])
    snapshot = clustered(camps)
    change = opinion_change(conversation=camps.conversation, snapshot=snapshot)
    assert change.voters == 25
    assert change.pairs == 25 * 8
    assert (change.changes, change.participants_changed) == (3, 3)
    assert (change.towards, change.away, change.undirected) == (2, 1, 0)
    assert dict(change.directions) == {
        "disagree to agree": 1,
        "agree to disagree": 1,
        "disagree to pass": 1,
    }
    by_id = {c.statement_id: c for c in change.statements}
    assert (by_id[s[0].pk].changes, by_id[s[0].pk].towards, by_id[s[0].pk].away) == (2, 1, 1)
    assert (by_id[s[1].pk].changes, by_id[s[1].pk].towards) == (1, 1)
    assert change.reading == (
        "3 of 25 participants (12%) changed 3 votes; 2 moved towards the other groups' "
        "majority and 1 away from it."
    )

    # A statement rejected afterwards still counts, but never appears by its text.
    s[1].status = StatementStatus.REJECTED
    s[1].save()
    change = opinion_change(conversation=camps.conversation, snapshot=snapshot)
    assert change.changes == 3
    assert [c.statement_id for c in change.statements] == [s[0].pk]


def test_votes_cast_after_the_snapshot_are_not_counted() -> None:
    camps = two_camps()
    snapshot = clustered(camps)
    votes_write([(camps.camp_a[0], camps.statements[0], 1)])
    assert opinion_change(conversation=camps.conversation, snapshot=snapshot).changes == 0


def test_the_smallest_group_shows_its_statements_that_reached_common_ground() -> None:
    camps = two_camps()
    s = camps.statements
    # Six more people in camp A make camp B the smaller group.
    extra = [ParticipantFactory.create(conversation=camps.conversation) for _ in range(6)]
    votes_write(
        [(p, st, 1 if i == 7 else (1 if i % 2 else -1)) for p in extra for i, st in enumerate(s)]
    )
    # B members wrote the shared statement 7 and the divisive statement 6; an A member wrote 5.
    for statement, author in ((s[7], camps.camp_b[0]), (s[6], camps.camp_b[1]), (s[5], extra[0])):
        statement.author_participant = author
        statement.save()
    snapshot = clustered(camps)
    report = report_build(conversation=camps.conversation, snapshot=snapshot)
    minority = minority_voices(report=report)
    assert minority is not None
    assert minority.size == 12
    b_members = {p.pk for p in camps.camp_b}
    positions = snapshot.positions_array()
    assert {int(p) for p in positions["participant"][positions["group"] == minority.group_id]} == (
        b_members
    )
    assert [row.id for row in minority.authored_common_ground] == [s[7].pk]
    assert minority.representative
    assert all(len(rep.statement.groups) == 2 for rep in minority.representative)
    assert minority.reading.startswith("The smallest group, Group ")
    assert "1 statement written by its members reached common ground" in minority.reading


def test_equally_small_groups_are_called_so() -> None:
    camps = two_camps()
    report = report_build(conversation=camps.conversation, snapshot=clustered(camps))
    minority = minority_voices(report=report)
    assert minority is not None and minority.tied
    assert minority.reading.startswith("One of the equally small groups, Group A (12 people")


def test_one_group_has_no_minority() -> None:
    camps = two_camps(per_camp=12)
    snapshot = clustered(camps)
    report = report_build(conversation=camps.conversation, snapshot=snapshot)
    assert minority_voices(report=dataclasses.replace(report, groups=report.groups[:1])) is None
