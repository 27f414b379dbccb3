"""Opinion groups from votes: Polis's math, deterministic, sparse, with its defects fixed.

Pure numpy / scipy / scikit-learn; never imports Django. The method is specified in
``polis-math.md`` and the metrics in ``metrics.md`` (shared docs).

Public API
----------
``analyze(votes, *, moderated_out=(), meta=(), excluded=(), options=None,
previous_state=None) -> Analysis``
    ``votes`` is ``(participant_ids, statement_ids, values)``: int64, int64 and int8 arrays
    with values in {-1, 0, +1} (+1 = agree). For a repeated (participant, statement) the last
    row wins; otherwise any permutation of the rows gives the identical result.
    ``moderated_out`` / ``meta`` are statement ids, ``excluded`` participant ids (bans, dropped
    before anything is computed). ``previous_state`` is ``Analysis.state`` of the previous run,
    as is or after a JSON round trip.

``Options(random_state=0, max_k=5, n_components=2, community_notes=True,
count_zeroed_as_voted=False, group_max_iter=100, group_seedings=10)``
    ``count_zeroed_as_voted`` reproduces Polis's quirk of counting moderated-out and meta
    statements as voted in the projection scaling; ``group_max_iter=20`` its group k-means cut
    short; ``group_seedings=0`` its single start. ``Options.reproduce_polis(**changes)`` sets
    all three, to compare with Polis's exports; the defaults keep the fixes.

k-means
    Polis's: a cold start takes the first distinct points in canonical order (participants by
    id, base clusters by id), so the result never depends on the order of the input rows; a
    warm start recentres the previous clusters on their members and splits off the farthest
    points up to k. Cold group runs also try k-means++ seedings (lowest inertia wins); beyond
    Polis's 100,000-participant cap, cold base clusters are first fitted on a fixed-seed sample.

``Analysis`` (what the Django side reads)
    ``k``; per participant, aligned arrays ``participant_ids``, ``group`` (stable group id or
    -1), ``in_conv`` (bool) and ``projection`` (n x 2: x, y); ``groups``: list of ``Group(id,
    size, centre, representative)`` sorted by id, each representative a
    ``RepresentativeStatement(statement, direction, p, z, ratio, ratio_z, metric, n_success,
    n_trials, best_agree)``; ``statements``: ``StatementStats`` with ``ids`` and per-statement
    arrays ``gac``, ``gac_norm``, ``bridging``, ``polarization``, ``divisiveness``,
    ``uncertainty``, ``extremity``, ``priority``, ``cn_intercept``, ``cn_factor`` and per-group
    (rows follow ``groups``) ``agree``, ``disagree``, ``passes``, ``total``, ``p``, ``p_low``,
    ``p_high`` (90% credible interval) and ``repness`` (pa, pd, pat, pdt, ra, rd, rat, rdt);
    ``consensus``: ``{"agree": [...], "disagree": [...]}`` majority lists; ``metrics``:
    ``silhouette`` per k tried, ``explained_variance``, ``group_sizes``, ``polarization``;
    ``timings_ms`` per step; ``state``; ``to_dict()`` gives the command line's JSON document
    (ids as strings, NaN as null).

State (``Analysis.state``, plain JSON types)
    ``{"version": 2, "statement_ids": [...], "components": [[...], [...]],
    "base": {"ids": [base cluster ids], "labels": [index into ids per in_conv participant]},
    "group_labels": {"2": [group per base cluster], ...},
    "smoother": {"last_k", "last_k_count", "smoothed_k"}, "in_conv": [participant ids],
    "groups": {"ids": [...], "centres": [...]}, "community_notes": {"statement_ids",
    "intercepts", "factors", "mu"}}``. A version 1 state (carried centres instead of
    memberships) still carries everything but the clusters, which start cold; a state with any
    other version is ignored (cold start).

Command line
    ``python -m clustering analyze EXPORT_DIR [--seed N] [--max-k K] [--replay N]
    [--reproduce-polis]``.
"""

from clustering.pipeline import Analysis, Options, analyze

__all__ = ["Analysis", "Options", "analyze"]
