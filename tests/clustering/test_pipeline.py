import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering import Analysis, Options, analyze
from clustering.synthetic import SyntheticVotes, planted_votes


@pytest.fixture(scope="module")
def small() -> SyntheticVotes:
    return planted_votes(600, 40, 9000, n_groups=3, random_state=3)


@pytest.fixture(scope="module")
def small_analysis(small: SyntheticVotes) -> Analysis:
    return analyze((small.participants, small.statements, small.values))


def test_planted_groups_are_recovered(small: SyntheticVotes, small_analysis: Analysis) -> None:
    grouped = small_analysis.group >= 0
    ids = small_analysis.participant_ids[grouped]
    assert small_analysis.k == 3
    assert adjusted_rand_score(small.groups[ids], small_analysis.group[grouped]) > 0.9


def test_shuffled_rows_give_identical_output(
    small: SyntheticVotes, small_analysis: Analysis
) -> None:
    order = np.random.default_rng(7).permutation(len(small.values))
    shuffled = analyze((small.participants[order], small.statements[order], small.values[order]))
    expected, actual = small_analysis.to_dict(), shuffled.to_dict()
    expected.pop("timings_ms"), actual.pop("timings_ms")
    assert actual == expected
    assert json.dumps(shuffled.state) == json.dumps(small_analysis.state)


def test_same_votes_give_the_same_groups_with_another_id_offset(small: SyntheticVotes) -> None:
    base = analyze((small.participants, small.statements, small.values))
    shifted = analyze((small.participants + 10_000, small.statements, small.values))
    assert np.array_equal(base.group, shifted.group)


def test_no_group_has_a_single_participant(small_analysis: Analysis) -> None:
    assert min(g.size for g in small_analysis.groups) >= 2
    # Two tight groups and one loner: the loner must not become a group of one.
    pids = np.repeat(np.arange(21), 10)
    sids = np.tile(np.arange(10), 21)
    values = np.where(pids < 10, 1, -1)
    values[pids == 20] = np.where(np.arange(10) % 2 == 0, 1, -1)
    result = analyze((pids, sids, values))
    assert all(size >= 2 for size in result.metrics.group_sizes.values())


def test_state_survives_a_json_round_trip(small: SyntheticVotes, small_analysis: Analysis) -> None:
    restored = json.loads(json.dumps(small_analysis.state))
    votes = (small.participants, small.statements, small.values)
    direct = analyze(votes, previous_state=small_analysis.state)
    via_json = analyze(votes, previous_state=restored)
    assert direct.to_dict()["participants"] == via_json.to_dict()["participants"]
    assert direct.state == via_json.state


def test_group_ids_stay_with_their_members_across_runs(small: SyntheticVotes) -> None:
    keep = np.arange(len(small.values)) < 8000
    first = analyze((small.participants[keep], small.statements[keep], small.values[keep]))
    state = json.loads(json.dumps(first.state))
    # A different seed relabels groups from scratch; the previous state must keep the ids.
    second = analyze(
        (small.participants, small.statements, small.values),
        previous_state=state,
        options=Options(random_state=99),
    )
    common = np.isin(second.participant_ids, first.participant_ids[first.group >= 0])
    before = dict(zip(first.participant_ids.tolist(), first.group.tolist(), strict=True))
    old = np.array([before[p] for p in second.participant_ids[common]])
    new = second.group[common]
    assert np.mean(old == new) > 0.95


def test_in_conv_is_sticky_and_tops_up_to_fifteen() -> None:
    # 20 participants with one vote each on 10 statements: nobody reaches 7 votes.
    first = analyze((np.arange(20), np.arange(20) % 10, np.ones(20, dtype=np.int8)))
    assert first.in_conv.sum() == 15
    assert first.participant_ids[first.in_conv].tolist() == list(range(15))
    # Participant 30 reaches 7 votes; the topped-up 15 stay in.
    pids = np.concatenate([np.arange(20), np.full(7, 30)])
    sids = np.concatenate([np.arange(20) % 10, np.arange(7)])
    second = analyze((pids, sids, np.ones(27, dtype=np.int8)), previous_state=first.state)
    assert set(second.participant_ids[second.in_conv].tolist()) == set(range(15)) | {30}


def test_version_1_states_still_carry_in_conv_and_unknown_versions_are_ignored() -> None:
    first = analyze((np.arange(20), np.arange(20) % 10, np.ones(20, dtype=np.int8)))
    # Version 1 held carried centres instead of memberships; the k-means then starts cold.
    old = {k: v for k, v in first.state.items() if k not in {"base", "group_labels"}}
    old |= {"version": 1, "base_centres": [[0.0, 0.0]], "group_centres": {}}
    pids = np.concatenate([np.arange(20), np.full(7, 30)])
    sids = np.concatenate([np.arange(20) % 10, np.arange(7)])
    votes = (pids, sids, np.ones(27, dtype=np.int8))
    second = analyze(votes, previous_state=old)
    assert set(second.participant_ids[second.in_conv].tolist()) == set(range(15)) | {30}
    ignored = analyze(votes, previous_state={**first.state, "version": 99})
    assert ignored.to_dict()["participants"] == analyze(votes).to_dict()["participants"]


def test_excluded_participants_are_dropped(small: SyntheticVotes) -> None:
    result = analyze((small.participants, small.statements, small.values), excluded=[0, 1])
    assert not np.isin([0, 1], result.participant_ids).any()


def test_moderated_and_meta_statements_carry_no_pca_weight(small: SyntheticVotes) -> None:
    result = analyze(
        (small.participants, small.statements, small.values), moderated_out=[0], meta=[1]
    )
    st = result.statements
    assert st.extremity[0] == 0 and st.extremity[1] == 0
    assert st.priority[0] == 0 and st.priority[1] == 49
    assert all(r.statement != 0 for g in result.groups for r in g.representative)


def test_every_output_is_json_serializable(small_analysis: Analysis) -> None:
    document = json.loads(json.dumps(small_analysis.to_dict(), allow_nan=False))
    assert set(document) >= {"k", "participants", "groups", "statements", "timings_ms"}
    statement = next(iter(document["statements"].values()))
    assert set(statement) >= {"gac", "gac_norm", "bridging", "extremity", "priority"}
    assert small_analysis.metrics.silhouette and small_analysis.metrics.polarization >= 0


def test_community_notes_intercept_is_high_for_cross_group_agreement() -> None:
    data = planted_votes(400, 30, 8000, n_groups=2, random_state=5)
    values = data.values.copy()
    values[data.statements == 0] = 1  # everyone agrees with statement 0
    result = analyze((data.participants, data.statements, values))
    intercept = result.statements.cn_intercept
    assert intercept[0] == np.nanmax(intercept)
    assert abs(result.statements.cn_factor[0]) < np.nanmax(np.abs(result.statements.cn_factor))


def test_clustering_never_imports_django() -> None:
    code = "import sys, clustering, clustering.cli; print('django' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
