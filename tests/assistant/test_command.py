import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

PAIRS = Path(__file__).resolve().parents[2] / "data" / "dedupe_pairs.csv"


def run(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("assistant", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.usefixtures("offline")
def test_dedupe_prints_a_tier_and_score_for_every_pair() -> None:
    result = run("dedupe", str(PAIRS))

    assert len(result["pairs"]) >= 60
    first = result["pairs"][0]
    assert set(first) == {"a", "b", "tier", "score"}
    tiers = {pair["tier"] for pair in result["pairs"]}
    assert tiers <= {"duplicate", "probable", "related", "none"}
    assert result["method"] == "local" and result["limitations"]


@pytest.mark.usefixtures("offline")
def test_dedupe_refuses_a_file_without_the_columns(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.csv"
    bad.write_text("first,second\nx,y\n")

    with pytest.raises(CommandError, match="needs columns a and b"):
        run("dedupe", str(bad))
