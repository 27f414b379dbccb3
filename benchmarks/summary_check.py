"""How well the offline check of a summary sentence against its citations works.

    python benchmarks/summary_check.py

On a labelled set (benchmarks/data/summary_support.csv: a summary sentence, the statements
it cites, whether they support it, and its kind: faithful, a fluent contradiction on the same
subject, or off-subject), each sentence's best cosine similarity to its citations under the
local embedding model is compared with floors from 0.10 to 0.60. Printed per floor, on the
"tune" half: the unsupported sentences that pass (by kind) and the supported ones that fail.
The floor is chosen on the tune half: among the floors that refuse at most MAX_FALSE_REFUSALS
of the supported sentences, the one that lets the fewest unsupported sentences through, and
of those the lowest (the most room for faithful sentences: a refused one costs a regenerated
summary, and a model verifies whatever passes anyway); it is then reported on the other half.
Last, the local stance rules of the duplicate check (``local_stance_ruling``) are asked
whether each sentence makes the opposite claim of a citation: how many contradictions they catch and
how many faithful sentences they would refuse.
"""

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")

import django  # noqa: E402

django.setup()

from deliberation.assistant.duplicates import local_stance_ruling  # noqa: E402
from deliberation.assistant.embeddings import local_embedder  # noqa: E402
from deliberation.assistant.summaries import SUPPORT_FLOOR  # noqa: E402
from deliberation.models import Stance  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "summary_support.csv"
FLOORS = [round(0.10 + 0.05 * i, 2) for i in range(11)]
MAX_FALSE_REFUSALS = 0.05
KINDS = ("contradiction", "off_subject")


@dataclass(frozen=True)
class Item:
    sentence: str
    cited: list[str]
    supported: bool
    kind: str
    split: str
    similarity: float
    opposite: bool


def load() -> list[Item]:
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    embedder = local_embedder()
    items = []
    for row in rows:
        cited = [text.strip() for text in row["cited"].split("||")]
        vectors = embedder.embed([row["sentence"], *cited])
        items.append(
            Item(
                sentence=row["sentence"],
                cited=cited,
                supported=row["supported"] == "1",
                kind=row["kind"],
                split=row["split"],
                similarity=max(float(vectors[0] @ vector) for vector in vectors[1:]),
                opposite=any(
                    local_stance_ruling(row["sentence"], text).stance == Stance.OPPOSITE
                    for text in cited
                ),
            )
        )
    return items


def counts(items: list[Item], floor: float) -> dict[str, tuple[int, int]]:
    """Per kind: (sentences passing the floor, sentences of that kind)."""
    found = {}
    for kind in ("faithful", *KINDS):
        of_kind = [item for item in items if item.kind == kind]
        found[kind] = (sum(item.similarity >= floor for item in of_kind), len(of_kind))
    return found


def table(items: list[Item], title: str) -> None:
    print(f"\n{title}: {len(items)} sentences")
    print(
        f"{'floor':>6} {'supported fail':>15} {'contradiction pass':>19} {'off-subject pass':>17}"
    )
    for floor in FLOORS:
        found = counts(items, floor)
        passed, total = found["faithful"]
        cells = [f"{total - passed}/{total}"] + [f"{found[k][0]}/{found[k][1]}" for k in KINDS]
        print(f"{floor:>6.2f} {cells[0]:>15} {cells[1]:>19} {cells[2]:>17}")


def choose(items: list[Item]) -> float:
    supported = [item for item in items if item.supported]
    unsupported = [item for item in items if not item.supported]
    allowed = [
        floor
        for floor in FLOORS
        if sum(item.similarity < floor for item in supported) <= MAX_FALSE_REFUSALS * len(supported)
    ]
    return min(allowed, key=lambda floor: (sum(i.similarity >= floor for i in unsupported), floor))


def main() -> None:
    items = load()
    tune = [item for item in items if item.split == "tune"]
    report = [item for item in items if item.split == "report"]
    table(tune, "Tune half")
    floor = choose(tune)
    print(
        f"\nChosen on the tune half: {floor:.2f} (the fewest unsupported passing while "
        f"refusing at most {MAX_FALSE_REFUSALS:.0%} of supported sentences, lowest on a tie); "
        f"in the code: {SUPPORT_FLOOR:.2f}"
    )
    table(report, "Report half")
    found = counts(report, SUPPORT_FLOOR)
    passed, total = found["faithful"]
    print(
        f"\nReport half at the code's floor {SUPPORT_FLOOR:.2f}: supported refused "
        f"{total - passed}/{total}, "
        + ", ".join(f"{kind} passed {found[kind][0]}/{found[kind][1]}" for kind in KINDS)
    )
    for kind in ("faithful", "contradiction", "off_subject"):
        scores = sorted(item.similarity for item in items if item.kind == kind)
        print(
            f"similarity of {kind}: min {scores[0]:.2f}, "
            f"median {scores[len(scores) // 2]:.2f}, max {scores[-1]:.2f}"
        )
    print("\nLocal stance rules (opposite claim to a citation), all sentences:")
    for kind in ("faithful", "contradiction", "off_subject"):
        flagged = [item for item in items if item.kind == kind and item.opposite]
        total = sum(item.kind == kind for item in items)
        print(f"  {kind}: {len(flagged)}/{total} called opposite")
        for item in flagged:
            print(f"    {item.sentence}")


if __name__ == "__main__":
    main()
