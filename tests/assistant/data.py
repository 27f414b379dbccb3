"""Conversations and fake-model answers shared by the assistant's tests."""

import json
from typing import Any

from deliberation.models import Snapshot, Statement
from deliberation.services.snapshots import snapshot_run
from tests.snapshot_data import Camps, two_camps

# two_camps: camp A agrees with the odd statements and disagrees with the even ones, camp B
# the reverse, and everyone agrees with the last.
TEXTS = [
    "Ban cars from the old town centre on weekends.",
    "Build more protected bike lanes downtown.",
    "Lower parking fees for residents of the centre.",
    "Plant more trees along every street.",
    "Raise the fuel tax to pay for more buses.",
    "Keep the public library open on Sundays.",
]
# Drafts near enough to an existing statement to forecast from (the "related" tier of the
# fake model's hashed n-gram embeddings), not so near as to be a copy of it.
BIKE_LANES = "Build protected bike lanes in the suburbs too."
LIBRARY_TOO = "Open the public library on Sunday evenings too."
UNRELATED_DRAFT = "Hold a citizens' assembly on housing every spring."


def named_camps() -> Camps:
    """Two camps of 12 that vote on statements with real-looking, distinct texts."""
    camps = two_camps(per_camp=12, n_statements=len(TEXTS))
    for statement, text in zip(camps.statements, TEXTS, strict=True):
        Statement.objects.filter(pk=statement.pk).update(text=text)
    return camps


def run_snapshot(camps: Camps) -> Snapshot:
    ran = snapshot_run(
        snapshot_id=Snapshot.objects.create(conversation_id=camps.conversation.pk).pk
    )
    assert ran is not None and ran.k == 2
    return Snapshot.objects.get(pk=ran.pk)


def answer_stances_same(body: dict[str, Any]) -> dict[str, Any]:
    """The fake model's stance check: every compared pair makes the same claim."""
    content = body["messages"][-1]["content"]
    pairs = json.loads(content[content.index("<data>") + 6 : content.index("</data>")])
    return {"pairs": [{"pair": item["pair"], "relation": "same"} for item in pairs]}
