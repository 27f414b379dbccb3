"""Replaying a real conversation's vote log into snapshots, checked against the raw export."""

import csv
import io
from collections import defaultdict

import pytest
from django.core.management import call_command

from deliberation.errors import Conflict, InvalidInput
from deliberation.models import Conversation, Participant, Statement, StatementStatus
from deliberation.selectors.process import opinion_change, process_series
from deliberation.services.process_replay import snapshot_history_replay
from tests.report.real_data import POLIS_DATA, SEATTLE

pytestmark = pytest.mark.django_db


def _raw_votes() -> list[tuple[int, str, str, int]]:
    """votes.csv as (milliseconds, voter, comment, value), earliest first, ties in file order."""
    with (POLIS_DATA / SEATTLE / "votes.csv").open(newline="") as handle:
        rows = [
            (int(r["timestamp"]), r["voter-id"], r["comment-id"], int(r["vote"]))
            for r in csv.DictReader(handle)
        ]
    return sorted(rows, key=lambda r: r[0])


def _import() -> Conversation:
    call_command("import_polis", str(POLIS_DATA / SEATTLE), slug="seattle", stdout=io.StringIO())
    return Conversation.objects.get(slug="seattle")


def test_replayed_series_match_figures_recomputed_from_the_raw_vote_log() -> None:
    conversation = _import()
    stored = snapshot_history_replay(conversation_id=conversation.pk, points=8)
    series = process_series(conversation=conversation, snapshot=stored[-1])
    assert len(series.points) == len(stored) >= 2
    print()
    for point, snapshot in zip(series.points, stored, strict=True):
        print(
            point.at,
            snapshot.n_votes,
            point.k,
            point.polarization,
            point.common_ground,
            point.early,
            point.late,
        )

    raw = _raw_votes()
    person = dict(Participant.objects.filter(conversation=conversation).values_list("xid", "pk"))
    statements = {s.external_id: s for s in Statement.objects.filter(conversation=conversation)}
    # Pending statements wait for a moderator and are not in the math (as in a live run).
    pending = {s.pk for s in statements.values() if s.status == StatementStatus.PENDING}
    left_out = {
        s.pk for s in statements.values() if s.status != StatementStatus.ACCEPTED or s.is_meta
    }
    for point, snapshot in zip(series.points, stored, strict=True):
        cut_ms = point.at.timestamp() * 1000
        latest: dict[tuple[int, int], int] = {}
        for ms, voter, comment, value in raw:
            if ms <= cut_ms and statements[comment].pk not in pending:
                latest[(person[voter], statements[comment].pk)] = value
        assert snapshot.n_votes == len(latest)
        # Per-group tallies of the in-conv participants, straight from the raw votes and the
        # snapshot's group of each person.
        positions = snapshot.positions_array()
        group_of = {
            int(p): int(g)
            for p, g in zip(positions["participant"], positions["group"], strict=True)
        }
        tallies: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for (pid, sid), value in latest.items():
            if group_of.get(pid, -1) >= 0:
                tally = tallies[sid][group_of[pid]]
                tally[0] += value == 1
                tally[1] += 1
        groups = sorted({g for g in group_of.values() if g >= 0})
        pol_num = pol_den = 0.0
        counted = common = 0
        for sid, by_group in tallies.items():
            if sid in left_out:
                continue
            p = [(by_group[g][0] + 1) / (by_group[g][1] + 2) for g in groups]
            votes = sum(t[1] for t in by_group.values())
            pol_num += votes * (max(p) - min(p))
            pol_den += votes
            if votes >= 20:
                counted += 1
                common += min(p) >= 0.6
        assert point.k == len(groups)
        assert point.polarization == pytest.approx(pol_num / pol_den)
        assert point.common_ground == (pytest.approx(common / counted) if counted else None)

    # Changed votes, counted from the raw log: pairs whose last vote differs from the first.
    first: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for _, voter, comment, value in raw:
        first.setdefault((voter, comment), value)
        last[(voter, comment)] = value
    changed = [pair for pair in first if first[pair] != last[pair]]
    change = opinion_change(conversation=conversation, snapshot=stored[-1])
    print(change.reading, change.directions)
    assert change.changes == len(changed)
    assert change.participants_changed == len({voter for voter, _ in changed})
    assert change.voters == len({voter for _, voter, _, _ in raw})
    assert change.towards + change.away + change.undirected == change.changes


def test_replay_is_refused_once_there_are_snapshots_and_for_a_bad_count() -> None:
    conversation = _import()
    with pytest.raises(InvalidInput):
        snapshot_history_replay(conversation_id=conversation.pk, points=0)
    snapshot_history_replay(conversation_id=conversation.pk, points=1)
    with pytest.raises(Conflict):
        snapshot_history_replay(conversation_id=conversation.pk, points=3)


def test_the_replay_command_prints_the_series() -> None:
    conversation = _import()
    out = io.StringIO()
    call_command("replay_snapshots", conversation.slug, points=3, stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0].startswith("snapshot  at")
    assert "Polarization" in text and "changed" in text
