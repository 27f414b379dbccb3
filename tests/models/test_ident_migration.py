"""The identity migration on rows that existed before it: each conversation gets its own
link salts, and participants a Polis import left behind are marked unclaimable."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("deliberation", "0006_snapshot_vote_arrays")]
AFTER = [("deliberation", "0007_ident_links")]


def test_existing_conversations_get_distinct_salts_and_imports_are_marked() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    conversations = [
        old.get_model("deliberation", "Conversation").objects.create(slug=f"c{n}", topic="T")
        for n in range(3)
    ]
    Participant = old.get_model("deliberation", "Participant")
    imported = Participant.objects.create(conversation=conversations[0], xid="5")
    joined = Participant.objects.create(
        conversation=conversations[0], xid="m-1", session_key="s" * 32
    )
    anonymous = Participant.objects.create(conversation=conversations[0], session_key="t" * 32)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    rows = new.get_model("deliberation", "Conversation").objects.values_list(
        "link_salt", "xid_salt"
    )
    salts = [salt for row in rows for salt in row]
    assert len(salts) == 6 and len(set(salts)) == 6
    marked = new.get_model("deliberation", "Participant").objects.filter(imported=True)
    assert list(marked.values_list("pk", flat=True)) == [imported.pk]
    assert {joined.pk, anonymous.pk}.isdisjoint(marked.values_list("pk", flat=True))
