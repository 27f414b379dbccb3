"""Process metrics on small constructed conversations whose figures are known by hand."""

import numpy as np
import pytest

from clustering.process import (
    common_ground_share,
    conversation_polarization,
    early_late_common_ground,
    kish_effective_size,
    opinion_changes,
    others_majority,
    poststratification,
    towards_others,
    weighted_agreement,
)
from clustering.stats import Tallies, group_metrics


def _metrics(agree: list[list[int]], disagree: list[list[int]], total: list[list[int]]):
    tallies = Tallies(
        np.array(agree, dtype=float), np.array(disagree, dtype=float), np.array(total, dtype=float)
    )
    return group_metrics(tallies), tallies.sum().total


def test_a_converging_conversation_loses_polarization_and_gains_common_ground() -> None:
    # Two groups of 18 people, two statements. Early on group 0 agrees with both and group 1
    # disagrees with both; later both groups agree with both.
    early, early_votes = _metrics([[18, 18], [0, 0]], [[0, 0], [18, 18]], [[18, 18], [18, 18]])
    late, late_votes = _metrics([[18, 18], [18, 18]], [[0, 0], [0, 0]], [[18, 18], [18, 18]])
    # p = 19/20 and 1/20: Pol = 0.9 on both statements, then 0.
    assert conversation_polarization(early.polarization, early_votes) == pytest.approx(0.9)
    assert conversation_polarization(late.polarization, late_votes) == pytest.approx(0.0)
    # B = 1/20 then 19/20; 36 votes each >= 20.
    assert common_ground_share(early.bridging, early_votes) == 0.0
    assert common_ground_share(late.bridging, late_votes) == 1.0


def test_a_polarizing_conversation_gains_polarization() -> None:
    # Group 0 agrees 10 of 18 then 18 of 18; group 1 agrees 8 of 18 then 0 of 18.
    before, votes = _metrics([[10], [8]], [[8], [10]], [[18], [18]])
    after, _ = _metrics([[18], [0]], [[0], [18]], [[18], [18]])
    assert conversation_polarization(before.polarization, votes) == pytest.approx(11 / 20 - 9 / 20)
    assert conversation_polarization(after.polarization, votes) == pytest.approx(0.9)


def test_polarization_weights_statements_by_votes_and_ignores_unweighted_ones() -> None:
    assert conversation_polarization(np.array([0.2, 0.8, 0.5]), np.array([3.0, 1.0, 0.0])) == (
        pytest.approx((0.2 * 3 + 0.8) / 4)
    )
    assert conversation_polarization(np.array([0.5]), np.array([0.0])) == 0.0


def test_common_ground_counts_only_statements_with_enough_votes() -> None:
    bridging = np.array([0.7, 0.6, 0.59, 0.9, np.nan])
    votes = np.array([20, 30, 25, 19, 40])
    # Counted: 0.7, 0.6, 0.59, NaN (0.9 has 19 votes); common ground: 0.7 and 0.6.
    assert common_ground_share(bridging, votes) == pytest.approx(2 / 4)
    assert common_ground_share(bridging, np.zeros(5)) is None


def test_early_and_late_statements_split_at_the_key() -> None:
    bridging = np.array([0.2, 0.3, 0.7, 0.8, 0.4])
    votes = np.full(5, 30)
    order = np.array([1, 2, 3, 4, 5])
    assert early_late_common_ground(bridging, votes, order, 2) == (0.0, pytest.approx(2 / 3))
    assert early_late_common_ground(bridging, votes, order, 5) == (pytest.approx(2 / 5), None)


def test_opinion_changes_count_net_changes_in_time_order() -> None:
    # Participant 1: statement 10 agree -> disagree (changed); statement 11 pass -> agree ->
    # pass (back where it started, no change). Participant 2: statement 10 disagree -> agree
    # -> agree (changed). Participant 3: statement 10 agree once.
    participant = np.array([1, 1, 2, 1, 1, 2, 3, 1, 2])
    statement = np.array([10, 11, 10, 10, 11, 10, 10, 11, 10])
    value = np.array([1, 0, -1, -1, 1, 1, 1, 0, 1])
    changes = opinion_changes(participant, statement, value)
    assert changes.pairs == 4
    assert changes.participant.tolist() == [1, 2]
    assert changes.statement.tolist() == [10, 10]
    assert changes.first.tolist() == [1, -1]
    assert changes.last.tolist() == [-1, 1]
    assert changes.participants_changed == 2
    assert changes.directions() == {(1, -1): 1, (-1, 1): 1}


def test_no_events_means_no_changes() -> None:
    changes = opinion_changes(np.array([]), np.array([]), np.array([]))
    assert changes.pairs == 0 and changes.participants_changed == 0
    assert changes.directions() == {}


def test_a_vote_changed_towards_the_other_group_counts_as_towards() -> None:
    # Statement 0: group 0 disagrees (1 agree, 9 disagree), group 1 agrees (8 to 2).
    # Statement 1: group 1 splits 5 to 5, so group 0's "others" have no majority.
    agree = np.array([[1, 9], [8, 5]])
    disagree = np.array([[9, 1], [2, 5]])
    target = others_majority(agree, disagree)
    assert target.tolist() == [[1, 0], [-1, 1]]
    # A group-0 member moves disagree -> agree on statement 0: towards group 1's agree.
    # A group-1 member moves disagree -> pass on statement 0: away from group 0's disagree.
    # A group-0 member moves agree -> disagree on statement 1: the others are tied: neither.
    first = np.array([-1, -1, 1])
    last = np.array([1, 0, -1])
    targets = np.array([target[0, 0], target[1, 0], target[0, 1]])
    assert towards_others(first, last, targets).tolist() == [1, -1, 0]


def test_kish_effective_size_of_equal_and_unequal_weights() -> None:
    assert kish_effective_size(np.ones(10)) == pytest.approx(10.0)
    # (3 + 1)^2 / (9 + 1) = 1.6
    assert kish_effective_size(np.array([3.0, 1.0])) == pytest.approx(1.6)
    assert kish_effective_size(np.zeros(3)) == 0.0


def test_an_over_represented_group_is_weighted_down_to_its_target() -> None:
    # 8 respondents in stratum 0 (who all agree), 2 in stratum 1 (who all disagree), one who
    # did not answer; the target population is half and half.
    stratum = np.array([0] * 8 + [1] * 2 + [-1])
    result = poststratification(stratum, np.array([0.5, 0.5]))
    assert result.sample_share.tolist() == pytest.approx([0.8, 0.2])
    assert result.target_share.tolist() == pytest.approx([0.5, 0.5])
    assert result.weights.tolist() == pytest.approx([0.625] * 8 + [2.5] * 2 + [0.0])
    # (8 * 0.625 + 2 * 2.5)^2 / (8 * 0.625^2 + 2 * 2.5^2) = 100 / 15.625 = 6.4
    assert result.effective_size == pytest.approx(6.4)
    assert result.missing == []
    rows = np.arange(11)
    raw, weighted = weighted_agreement(
        rows, np.zeros(11, dtype=int), np.array([1] * 8 + [-1] * 3), result.weights, 1
    )
    # As voted 8 of 11 agree; re-weighted, the non-respondent drops out and the two strata
    # count half each: 0.5.
    assert raw.tolist() == pytest.approx([8 / 11])
    assert weighted.tolist() == pytest.approx([0.5])


def test_a_stratum_nobody_answered_is_reported_missing_and_the_rest_renormalised() -> None:
    result = poststratification(np.array([0, 0, 1]), np.array([0.25, 0.25, 0.5]))
    assert result.missing == [2]
    assert result.target_share.tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert result.weights.tolist() == pytest.approx([0.75, 0.75, 1.5])


def test_weighted_agreement_is_nan_without_votes() -> None:
    raw, weighted = weighted_agreement(np.array([0]), np.array([0]), np.array([1]), np.ones(1), 2)
    assert raw[0] == 1.0 and np.isnan(raw[1]) and np.isnan(weighted[1])
