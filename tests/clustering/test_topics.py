import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering.topics import (
    OTHER_ID,
    PreviousTopic,
    TopicModel,
    assign_vector,
    fit_topics,
    topic_keywords,
)

THEMES = Path(__file__).parent / "data" / "topics_themes.csv"


def previous_of(model: TopicModel, keys: np.ndarray) -> list[PreviousTopic]:
    return [
        PreviousTopic(t.id, t.parent, frozenset(keys[t.members].tolist()), t.centroid)
        for t in model.topics
    ]


@pytest.fixture(scope="module")
def themes() -> tuple[list[str], list[str], np.ndarray]:
    """Six themes x 21 paraphrased statements (a few on purpose between two themes),
    embedded once with the real local model."""
    from deliberation.assistant.embeddings import local_embedder

    with THEMES.open() as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["text"] for row in rows]
    return texts, [row["theme"] for row in rows], local_embedder().embed(texts)


def test_topics_recover_the_synthetic_themes(
    themes: tuple[list[str], list[str], np.ndarray],
) -> None:
    texts, labels, vectors = themes
    model = fit_topics(vectors, random_state=0)
    ari = adjusted_rand_score(labels, model.labels)
    names = topic_keywords(texts, model.labels)
    print(f"\nadjusted Rand index vs the 6 themes: {ari:.3f}; {len(model.top_level())} topics")
    for topic in model.top_level():
        print(f"  topic {topic.id} ({len(topic.members)}): keywords {', '.join(names[topic.id])}")
    assert len(set(labels)) >= 6 and min(labels.count(t) for t in set(labels)) >= 20
    assert ari >= 0.8


def test_topics_are_deterministic_for_a_random_state(
    themes: tuple[list[str], list[str], np.ndarray],
) -> None:
    _, _, vectors = themes
    first, second = fit_topics(vectors, random_state=3), fit_topics(vectors, random_state=3)
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.sublabels, second.sublabels)
    assert [t.id for t in first.topics] == [t.id for t in second.topics]


def test_every_statement_is_in_exactly_one_topic_and_leftovers_go_to_other() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    blobs = np.vstack([c + 0.05 * rng.normal(size=(30, 16)) for c in centres])
    # Two stray statements far from everything and from each other: too few for a topic.
    strays = rng.normal(size=(2, 16)) * 3
    model = fit_topics(np.vstack([blobs, strays]), random_state=0, subtopic_min_size=1000)
    members = np.concatenate([t.members for t in model.top_level()])
    assert sorted(members.tolist()) == list(range(92))
    other = [t for t in model.top_level() if t.is_other]
    assert len(other) == 1 and set(other[0].members.tolist()) >= {90, 91}
    assert set(model.labels[90:].tolist()) == {OTHER_ID}
    assert all(t.id >= 1 for t in model.top_level() if not t.is_other)


def test_large_topics_split_into_subtopics_that_cover_them() -> None:
    rng = np.random.default_rng(1)
    # Two far-apart themes, each made of two close sub-themes.
    themes = rng.normal(size=(2, 24)) * 4
    subs = [t + 0.6 * rng.normal(size=24) for t in themes for _ in range(2)]
    vectors = np.vstack([s + 0.2 * rng.normal(size=(25, 24)) for s in subs])
    model = fit_topics(vectors, random_state=0, subtopic_min_size=40)
    for topic in model.top_level():
        children = model.children(topic.id)
        covered = np.sort(np.concatenate([c.members for c in children]))
        assert len(children) >= 2 and np.array_equal(covered, topic.members)
    assert np.all(model.sublabels >= 1)


def test_a_recompute_with_one_new_statement_keeps_every_topic_id(
    themes: tuple[list[str], list[str], np.ndarray],
) -> None:
    texts, _, vectors = themes
    keys = np.arange(1000, 1000 + len(texts))
    # Shuffle the rows of the first fit so ids cannot survive by row order alone.
    order = np.random.default_rng(5).permutation(len(texts) - 1)
    first = fit_topics(vectors[:-1][order], keys=keys[:-1][order], random_state=0)
    second = fit_topics(
        vectors, keys=keys, previous=previous_of(first, keys[:-1][order]), previous_k=first.k
    )
    before = {int(k): int(t) for k, t in zip(keys[:-1][order], first.labels, strict=True)}
    after = {int(k): int(t) for k, t in zip(keys, second.labels, strict=True)}
    moved = [k for k in before if before[k] != after[k]]
    # The warm restart moves at most one ambiguous statement; every topic keeps its id.
    assert len(moved) <= 1, moved
    assert {t.id for t in first.top_level()} <= {t.id for t in second.top_level()}


def test_new_topics_take_fresh_ids_and_old_ids_are_not_reused() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(4, 16)) * 3
    blobs = [c + 0.1 * rng.normal(size=(20, 16)) for c in centres]
    keys = np.arange(80)
    first = fit_topics(np.vstack(blobs[:3]), keys=keys[:60], random_state=0)
    previous = previous_of(first, keys[:60])
    # A removed theme's id is retired; the new theme gets an id above all used before.
    second = fit_topics(np.vstack(blobs[1:]), keys=keys[20:], previous=previous, random_state=0)
    old = {int(first.labels[i]) for i in range(20, 60)}
    new_theme = {int(second.labels[i]) for i in range(40, 60)}
    assert {int(second.labels[i]) for i in range(40)} == old
    assert len(new_theme) == 1 and new_theme.pop() > max(t.id for t in first.topics)


def test_one_new_vector_joins_the_nearest_topic_or_other_when_far_from_all(
    themes: tuple[list[str], list[str], np.ndarray],
) -> None:
    from deliberation.assistant.embeddings import local_embedder

    texts, _, vectors = themes
    model = fit_topics(vectors, random_state=0)
    top = model.top_level()
    spreads = [t.spread for t in top]
    bus = local_embedder().embed(["The number 12 bus should run later on Sundays."])[0]
    transit_row = texts.index("Buses should get priority at traffic lights.")
    assert assign_vector(bus, top, spreads) == model.labels[transit_row]
    far = -np.mean([t.centroid for t in top], axis=0)
    assert assign_vector(far, top, spreads) == OTHER_ID


def test_keywords_are_the_words_that_set_a_topic_apart() -> None:
    texts = [
        "Buses are late",
        "More buses at night",
        "buses and trains",
        "Rent is too high",
        "Rent control now",
        "High rent for students",
    ]
    names = topic_keywords(texts, [1, 1, 1, 2, 2, 2], n_keywords=1)
    assert names == {1: ["buses"], 2: ["rent"]}


def test_too_few_statements_make_one_topic_and_none_make_none() -> None:
    few = fit_topics(np.eye(4), random_state=0)
    assert [len(t.members) for t in few.topics] == [4] and not few.topics[0].is_other
    assert fit_topics(np.zeros((0, 4))).topics == []
    with pytest.raises(ValueError, match="keys"):
        fit_topics(np.eye(4), keys=[1, 2])


POLIS = Path(__file__).parents[2] / "data" / "polis"


@pytest.mark.parametrize(
    "name", ["15-per-hour-seattle", "scoop-hivemind.biodiversity", "vtaiwan.uberx"]
)
def test_real_conversations_assign_every_statement_and_keep_ids_on_one_more(name: str) -> None:
    from deliberation.assistant.embeddings import local_embedder

    with (POLIS / name / "comments.csv").open(newline="") as handle:
        texts = [r["comment-body"] for r in csv.DictReader(handle) if r["moderated"] != "-1"]
    vectors = local_embedder().embed(texts)
    keys = np.arange(len(texts))
    first = fit_topics(vectors[:-1], keys=keys[:-1], random_state=0)
    assert sorted(np.concatenate([t.members for t in first.top_level()]).tolist()) == list(
        range(len(texts) - 1)
    )
    second = fit_topics(
        vectors, keys=keys, previous=previous_of(first, keys), previous_k=first.k, random_state=0
    )
    assert {t.id for t in first.top_level()} <= {t.id for t in second.top_level()}
    assert sorted(np.concatenate([t.members for t in second.top_level()]).tolist()) == list(
        range(len(texts))
    )
