"""The identity migration on rows that existed before it: each conversation gets its own
link salts, and participants a Polis import left behind are marked unclaimable."""

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

MIGRATION = ("deliberation", "0008_ident_links")
AFTER = [MIGRATION]


@pytest.fixture
def before() -> Iterator[list[tuple[str, str]]]:
    """The state just before the migration; every later migration is applied again after
    the test, so the tests that follow find the schema they expect."""
    executor = MigrationExecutor(connection)
    parents = executor.loader.graph.node_map[MIGRATION].parents
    yield [parent.key for parent in parents]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_conversations_get_distinct_salts_and_imports_are_marked(
    before: list[tuple[str, str]],
) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
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
