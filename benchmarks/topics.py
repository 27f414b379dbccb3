"""Topics: fit time at 5,000 statements, one statement's assignment, and the real conversations.

Prints (1) topics, sizes and keyword names for the three Polis conversations in data/polis/
(accepted comments, embedded with the local model), with the checks that every statement is
assigned and that a refit with one more statement keeps every topic's id; (2) the fit time for
5,000 stored vectors: the three conversations' vectors resampled with small noise (there is no
real 5,000-statement English conversation in the repository), renormalized; (3) the time to
assign one new statement (embedding it included, and without).
Usage: ``python benchmarks/topics.py`` (needs DJANGO_SETTINGS_MODULE for the embedder's import).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import django
import numpy as np

from clustering.topics import OTHER_ID, PreviousTopic, assign_vector, fit_topics, topic_keywords

DATA = Path(__file__).resolve().parents[1] / "data" / "polis"
CONVERSATIONS = ["15-per-hour-seattle", "scoop-hivemind.biodiversity", "vtaiwan.uberx"]


def accepted_comments(name: str) -> list[str]:
    with (DATA / name / "comments.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Polis: 1 accepted, 0 not yet moderated (shown in open conversations), -1 rejected.
    return [row["comment-body"] for row in rows if row["moderated"] != "-1"]


def main() -> None:
    django.setup()
    from deliberation.assistant.embeddings import local_embedder

    embedder = local_embedder()
    pooled = []
    for name in CONVERSATIONS:
        texts = accepted_comments(name)
        vectors = embedder.embed(texts)
        pooled.append(vectors)
        keys = np.arange(len(texts))
        started = time.perf_counter()
        model = fit_topics(vectors[:-1], keys=keys[:-1], random_state=0)
        elapsed = time.perf_counter() - started
        names = topic_keywords(texts[:-1], model.labels)
        print(
            f"\n{name}: {len(texts) - 1} statements, {len(model.top_level())} topics "
            f"(silhouette {model.silhouette:.3f}), fit {elapsed:.2f} s"
        )
        for topic in model.top_level():
            label = "other" if topic.id == OTHER_ID else ", ".join(names[topic.id])
            subs = model.children(topic.id)
            extra = f", {len(subs)} subtopics" if subs else ""
            print(f"  topic {topic.id:>2} ({len(topic.members):>3}{extra}): {label}")
        assigned = np.concatenate([t.members for t in model.top_level()])
        assert sorted(assigned.tolist()) == list(range(len(texts) - 1)), "a statement was lost"
        previous = [
            PreviousTopic(t.id, t.parent, frozenset(keys[t.members].tolist()), t.centroid)
            for t in model.topics
        ]
        again = fit_topics(
            vectors, keys=keys, previous=previous, previous_k=model.k, random_state=0
        )
        kept = {t.id for t in model.top_level()} <= {t.id for t in again.top_level()}
        moved = int(np.sum(again.labels[:-1] != model.labels))
        print(
            f"  refit with one more statement: every topic id kept: {kept}; "
            f"{moved} statement(s) changed topic; k {model.k} -> {again.k}"
        )

    rng = np.random.default_rng(0)
    base = np.vstack(pooled).astype(np.float64)
    rows = base[rng.integers(0, len(base), 5000)] + 0.02 * rng.normal(size=(5000, base.shape[1]))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    started = time.perf_counter()
    big = fit_topics(rows, random_state=0)
    print(
        f"\nfit of 5,000 stored vectors: {time.perf_counter() - started:.2f} s, "
        f"{len(big.top_level())} topics, {len(big.topics) - len(big.top_level())} subtopics"
    )

    top = big.top_level()
    spreads = [t.spread for t in top]
    text = "The minimum wage should rise with inflation every year."
    embedder.embed([text])
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        assign_vector(embedder.embed([text])[0], top, spreads)
        timings.append(time.perf_counter() - started)
    vector = embedder.embed([text])[0]
    started = time.perf_counter()
    for _ in range(1000):
        assign_vector(vector, top, spreads)
    per = (time.perf_counter() - started) / 1000
    print(
        f"assign one new statement: {1000 * float(np.median(timings)):.1f} ms median with its "
        f"embedding; {1000 * per:.3f} ms for the nearest-centroid step alone"
    )


if __name__ == "__main__":
    main()
