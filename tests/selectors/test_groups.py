import random

import pytest

from deliberation.errors import NotFound, PermissionDenied
from deliberation.models import Snapshot, SnapshotStatus
from deliberation.selectors.groups import (
    groups_view,
    opinion_map,
    participant_groups_latest,
    participant_position,
    snapshot_history,
    snapshot_latest,
    snapshot_latest_for_viewer,
    statement_extremity_latest,
)
from deliberation.selectors.routing import statement_next_for_participant
from tests.factories import ConversationFactory, ParticipantFactory, UserFactory
from tests.snapshot_data import clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db


def test_latest_is_the_newest_succeeded_snapshot_never_a_failed_or_running_one() -> None:
    camps = two_camps(per_camp=4)
    good = clustered(camps)
    Snapshot.objects.create(conversation=camps.conversation, status=SnapshotStatus.FAILED)
    Snapshot.objects.create(conversation=camps.conversation, status=SnapshotStatus.RUNNING)

    latest = snapshot_latest(conversation=camps.conversation)

    assert latest is not None and latest.pk == good.pk


def test_viewer_gets_a_clear_error_before_the_first_snapshot() -> None:
    conversation = ConversationFactory.create()
    with pytest.raises(NotFound, match="No opinion groups yet"):
        snapshot_latest_for_viewer(conversation=conversation, user=None)


def test_hidden_groups_are_refused_to_participants_but_shown_to_moderators() -> None:
    camps = two_camps(per_camp=4)
    clustered(camps)
    camps.conversation.show_groups = False
    camps.conversation.save()

    with pytest.raises(PermissionDenied):
        snapshot_latest_for_viewer(conversation=camps.conversation, user=None)
    owner = camps.conversation.owner
    assert snapshot_latest_for_viewer(conversation=camps.conversation, user=owner)
    with pytest.raises(PermissionDenied):
        snapshot_latest_for_viewer(conversation=camps.conversation, user=UserFactory.create())


def test_groups_view_names_groups_and_lists_what_each_agrees_and_disagrees_with() -> None:
    camps = two_camps()
    view = groups_view(snapshot=clustered(camps))

    assert [g.label for g in view.groups] == ["A", "B"]
    assert sorted(g.size for g in view.groups) == [12, 12]
    for group in view.groups:
        assert group.representative
        for item in group.representative:
            counted = item.tally.agree if item.direction == "agree" else item.tally.disagree
            assert counted == group.size
    shared = camps.statements[-1]
    assert [(c.statement.id, c.direction) for c in view.consensus][:1] == [(shared.pk, "agree")]
    assert {s.statement.id for s in view.statements} == {s.pk for s in camps.statements}


def test_my_position_puts_me_in_my_camp_and_compares_my_votes_with_its_majority() -> None:
    camps = two_camps()
    view = groups_view(snapshot=clustered(camps))
    me = camps.camp_a[0]
    mate = camps.camp_a[1]

    mine = participant_position(view=view, participant=me)
    theirs = participant_position(view=view, participant=mate)

    assert mine.group is not None and mine.in_conv
    assert theirs.group == mine.group
    assert len(mine.comparisons) == len(camps.statements)
    assert all(c.agrees_with_group for c in mine.comparisons)
    assert mine.x is not None and mine.y is not None


def test_a_newcomer_not_yet_clustered_has_no_position() -> None:
    camps = two_camps(per_camp=4)
    view = groups_view(snapshot=clustered(camps))
    newcomer = ParticipantFactory.create(conversation=camps.conversation)

    position = participant_position(view=view, participant=newcomer)

    assert (position.in_snapshot, position.group, position.comparisons) == (False, None, [])


def test_participant_groups_latest_maps_grouped_participants_for_the_exporter() -> None:
    camps = two_camps(per_camp=5)
    assert participant_groups_latest(conversation=camps.conversation) == {}
    clustered(camps)

    groups = participant_groups_latest(conversation=camps.conversation)

    assert set(groups) == {p.pk for p in camps.camp_a + camps.camp_b}
    assert len({groups[p.pk] for p in camps.camp_a}) == 1


def test_history_lists_every_kept_snapshot_newest_first_without_bulky_columns() -> None:
    camps = two_camps(per_camp=4)
    first = clustered(camps)
    second = clustered(camps)

    history = list(snapshot_history(conversation=camps.conversation))

    assert [s.pk for s in history] == [second.pk, first.pk]
    assert history[0].get_deferred_fields() >= {"state", "results", "positions"}


def test_opinion_map_draws_one_outline_per_group_and_marks_me() -> None:
    camps = two_camps()
    snapshot = clustered(camps)

    drawn = opinion_map(snapshot=snapshot, participant=camps.camp_b[0])

    assert [h.label for h in drawn.hulls] == ["A", "B"]
    assert all(h.points for h in drawn.hulls)
    assert len(drawn.dots) == 24 and not drawn.density
    assert drawn.me is not None and drawn.me.group_label in {"A", "B"}
    assert all(0 <= d.x <= drawn.size and 0 <= d.y <= drawn.size for d in drawn.dots)
    assert [row[:2] for row in drawn.rows] == [("A", 12), ("B", 12)]


def test_routing_reads_extremity_from_the_latest_snapshot() -> None:
    camps = two_camps(per_camp=4)
    assert statement_extremity_latest(conversation_id=camps.conversation.pk) == {}
    clustered(camps)

    extremity = statement_extremity_latest(conversation_id=camps.conversation.pk)

    assert set(extremity) == {s.pk for s in camps.statements}
    assert max(extremity.values()) > 0
    newcomer = ParticipantFactory.create(conversation=camps.conversation)
    votes_write([(newcomer, s, 1) for s in camps.statements[1:]])
    drawn = statement_next_for_participant(
        conversation_id=newcomer.conversation_id, participant=newcomer, rng=random.Random(0)
    )
    assert drawn == camps.statements[0]
