from pathlib import Path

import numpy as np
import pytest

from deliberation.assistant.embeddings import LocalEmbedder, ModelFileMismatch, local_embedder


def test_the_local_model_is_loaded_once_per_process() -> None:
    assert local_embedder() is local_embedder()


def test_the_local_model_gives_unit_vectors_closer_for_the_same_meaning() -> None:
    vectors = local_embedder().embed(
        [
            "Buses should be free for students",
            "Pupils shouldn't have to pay bus fares",
            "Possums damage native forests",
        ]
    )

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6 > vectors[0] @ vectors[2] + 0.3


def test_a_text_embeds_the_same_alone_or_with_others() -> None:
    alone = local_embedder().embed(["Raise the minimum wage"])
    together = local_embedder().embed(
        ["A much longer statement about other things", "Raise the minimum wage"]
    )

    assert np.allclose(alone[0], together[1], atol=1e-6)


def test_a_weight_file_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    forged = tmp_path / "model.onnx"
    forged.write_bytes(b"not the model")

    with pytest.raises(ModelFileMismatch, match="SHA-256"):
        LocalEmbedder(forged)
