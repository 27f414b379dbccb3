"""Formula tests on a small matrix, every expected value computed by hand."""

import math

import numpy as np
import pytest

from clustering.stats import (
    Tallies,
    credible_interval,
    group_metrics,
    majority_consensus,
    one_proportion_z,
    priority,
    repness,
    select_representative,
    two_proportion_z,
)

# Two groups, two statements. Group 0: A=8 D=1 S=10 on c0, A=1 D=8 S=10 on c1.
# Group 1: A=2 D=6 S=10 on c0, A=7 D=2 S=10 on c1.
GROUPS = Tallies(
    agree=np.array([[8.0, 1.0], [2.0, 7.0]]),
    disagree=np.array([[1.0, 8.0], [6.0, 2.0]]),
    total=np.array([[10.0, 10.0], [10.0, 10.0]]),
)


def test_one_proportion_z_matches_hand_computation() -> None:
    # 2 * sqrt(11) * (9/11 - 1/2)
    assert one_proportion_z(np.array(8.0), np.array(10.0)) == pytest.approx(
        2 * math.sqrt(11) * (9 / 11 - 0.5)
    )


def test_two_proportion_z_matches_hand_computation() -> None:
    p1, p2, p = 9 / 11, 3 / 11, 12 / 22
    expected = (p1 - p2) / math.sqrt(p * (1 - p) * (2 / 11))
    assert two_proportion_z(
        np.array(8.0), np.array(10.0), np.array(2.0), np.array(10.0)
    ) == pytest.approx(expected)


def test_two_proportion_z_is_zero_when_everyone_agrees() -> None:
    # Pooled p = (A + A_r + 2) / (S + S_r + 2) = 1: no variance to test against.
    z = two_proportion_z(np.array(5.0), np.array(5.0), np.array(3.0), np.array(3.0))
    assert z == 0.0


def test_repness_numbers_for_group_zero_on_statement_zero() -> None:
    rep = repness(GROUPS)
    assert rep.pa[0, 0] == pytest.approx(9 / 12)
    assert rep.pd[0, 0] == pytest.approx(2 / 12)
    assert rep.ra[0, 0] == pytest.approx((9 / 12) / (3 / 12))
    assert rep.rd[0, 0] == pytest.approx((2 / 12) / (7 / 12))
    assert rep.pat[0, 0] == pytest.approx(2 * math.sqrt(11) * (9 / 11 - 0.5))
    assert rep.agree_metric[0, 0] == pytest.approx(
        rep.ra[0, 0] * rep.rat[0, 0] * rep.pa[0, 0] * rep.pat[0, 0]
    )


def test_each_group_is_represented_by_what_it_agrees_with_more_than_the_rest() -> None:
    rep = repness(GROUPS)
    chosen = select_representative(rep, GROUPS, np.array([True, True]))
    assert [(r.statement, r.direction, r.best_agree) for r in chosen[0]] == [
        (0, "agree", True),
        (1, "disagree", False),
    ]
    assert (chosen[1][0].statement, chosen[1][0].direction) == (1, "agree")
    assert chosen[0][0].n_success == 8 and chosen[0][0].n_trials == 10


def test_moderated_out_statements_never_represent() -> None:
    rep = repness(GROUPS)
    chosen = select_representative(rep, GROUPS, np.array([False, True]))
    assert all(r.statement == 1 for group in chosen for r in group)


def test_group_aware_consensus_bridging_and_polarization() -> None:
    metrics = group_metrics(GROUPS)
    p = np.array([[9 / 12, 2 / 12], [3 / 12, 8 / 12]])
    assert metrics.gac == pytest.approx(p[0] * p[1])
    assert metrics.gac_norm == pytest.approx(np.sqrt(p[0] * p[1]))
    assert metrics.bridging == pytest.approx(p.min(axis=0))
    assert metrics.polarization == pytest.approx([0.5, 0.5])
    # With two groups, the rest of group 0 is group 1.
    assert metrics.divisiveness == pytest.approx([0.5, 0.5])


def test_consensus_and_polarization_move_in_opposite_directions() -> None:
    agreed = Tallies(np.array([[9.0], [9.0]]), np.array([[0.0], [0.0]]), np.array([[10.0], [10.0]]))
    split = Tallies(np.array([[9.0], [0.0]]), np.array([[0.0], [9.0]]), np.array([[10.0], [10.0]]))
    a, b = group_metrics(agreed), group_metrics(split)
    assert a.gac[0] > b.gac[0] and a.bridging[0] > b.bridging[0]
    assert a.polarization[0] < b.polarization[0] and a.divisiveness[0] < b.divisiveness[0]


def test_priority_matches_hand_computation_and_meta_gets_49() -> None:
    everyone = Tallies(np.array([6.0, 0.0]), np.array([2.0, 0.0]), np.array([10.0, 0.0]))
    extremity = np.array([0.5, 0.0])
    result = priority(everyone, extremity, np.array([False, True]))
    importance = (1 - 3 / 12) * 1.5 * (7 / 12)
    assert result[0] == pytest.approx((importance * (1 + 8 * 2 ** (-2))) ** 2)
    assert result[1] == 49.0


def test_new_statements_get_up_to_nine_times_the_weight_before_squaring() -> None:
    fresh = Tallies(np.array([0.0]), np.array([0.0]), np.array([0.0]))
    assert priority(fresh, np.zeros(1), np.array([False]))[0] == pytest.approx((0.25 * 9) ** 2)


@pytest.mark.parametrize(
    ("agrees", "disagrees", "seen", "extremity", "expected"),
    [
        # Never seen: importance (1 - 1/2) * 1 * 1/2 = 1/4, novelty 1 + 8 = 9.
        (0, 0, 0, 0.0, (9 / 4) ** 2),
        # 6 agree, 2 disagree, 2 pass of 10: (1 - 3/12) * 7/12 = 7/16, novelty 1 + 8/4 = 3.
        (6, 2, 10, 0.0, (21 / 16) ** 2),
        # 1 agree, 4 disagree of 5, extremity 0.5: (6/7) * 1.5 * (2/7) = 18/49, novelty 5.
        (1, 4, 5, 0.5, (90 / 49) ** 2),
        # Everyone passed, 10 of 10: (1 - 11/12) * 1/12 = 1/144, novelty 3.
        (0, 0, 10, 0.0, (3 / 144) ** 2),
    ],
)
def test_priority_matches_the_hand_computed_polis_formula(
    agrees: int, disagrees: int, seen: int, extremity: float, expected: float
) -> None:
    tallies = Tallies(
        np.array([float(agrees)]), np.array([float(disagrees)]), np.array([float(seen)])
    )
    result = priority(tallies, np.array([extremity]), np.array([False]))
    assert result[0] == pytest.approx(expected, rel=1e-12)


def test_novelty_boost_fades_as_a_statement_is_seen() -> None:
    # Same agree share, more views: the 2^(-S/5) boost shrinks.
    tallies = Tallies(np.array([1.0, 10.0]), np.array([1.0, 10.0]), np.array([2.0, 20.0]))
    result = priority(tallies, np.zeros(2), np.array([False, False]))
    assert result[0] > result[1]


def test_credible_interval_is_the_beta_posterior_90_percent_interval() -> None:
    low, high = credible_interval(np.array([0.0]), np.array([0.0]))
    assert low[0] == pytest.approx(0.05) and high[0] == pytest.approx(0.95)
    low, high = credible_interval(np.array([8.0]), np.array([10.0]))
    assert low[0] < 9 / 12 < high[0]
    assert high[0] - low[0] < 0.9


def test_majority_consensus_lists_significant_majorities_only() -> None:
    everyone = Tallies(
        agree=np.array([18.0, 2.0, 6.0]),
        disagree=np.array([1.0, 17.0, 5.0]),
        total=np.array([20.0, 20.0, 12.0]),
    )
    lists = majority_consensus(everyone, np.array([True, True, True]))
    assert [c.statement for c in lists["agree"]] == [0]
    assert [c.statement for c in lists["disagree"]] == [1]
    assert lists["agree"][0].p == pytest.approx(19 / 22)
