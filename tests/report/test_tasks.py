import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import FileResponse
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from deliberation.models import Snapshot, SnapshotStatus, Statement
from deliberation.report.render import report_page
from deliberation.report.tasks import report_warm_task
from deliberation.services.moderation import statement_decide
from deliberation.services.report_export import FORMATS, report_exports_build
from tests.factories import UserFactory
from tests.report.real_data import import_and_cluster

pytestmark = pytest.mark.django_db


def test_the_latest_report_is_built_before_its_first_reader_asks(
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    seattle = import_and_cluster(slug="seattle")
    cache.clear()

    assert report_warm_task.apply(args=(seattle.snapshot.pk,)).get() is True

    # Served from the cache: only the visibility and freshness lookups, no report build.
    with django_assert_max_num_queries(8):
        page = report_page(slug="seattle", user=AnonymousUser())
    assert "Group A" in page.body


def test_a_snapshot_no_longer_the_latest_is_not_warmed() -> None:
    seattle = import_and_cluster(slug="seattle")
    Snapshot.objects.create(
        conversation=seattle.conversation,
        status=SnapshotStatus.SUCCEEDED,
        watermark=seattle.snapshot.watermark,
    )

    assert report_warm_task.apply(args=(seattle.snapshot.pk,)).get() is False


def test_the_snapshot_task_stores_every_download_and_readers_stream_it(
    exports_dir: Path,
) -> None:
    seattle = import_and_cluster(slug="seattle")

    assert report_warm_task.apply(args=(seattle.snapshot.pk,)).get() is True

    stored = sorted(p for p in exports_dir.rglob("*") if p.is_file())
    assert len(stored) == len(FORMATS)
    assert all(p.name == hashlib.sha256(p.read_bytes()).hexdigest() for p in stored)
    url = f"/report/seattle/{seattle.snapshot.pk}/export/json/"
    with mock.patch.dict("deliberation.services.report_export._BUILDERS", {"json": _never_built}):
        response = Client().get(url)
    assert response.status_code == 200
    body = _streamed(response)
    assert response["X-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    assert body in [p.read_bytes() for p in stored]


def test_a_moderation_decision_after_the_snapshot_leads_to_a_fresh_download() -> None:
    seattle = import_and_cluster(slug="seattle")
    report_warm_task.apply(args=(seattle.snapshot.pk,)).get()
    url = f"/report/seattle/{seattle.snapshot.pk}/export/json/"
    before = json.loads(_streamed(Client().get(url)))
    statement = Statement.objects.get(pk=before["statements"][0]["id"])
    moderator = UserFactory.create()
    seattle.conversation.moderators.add(moderator)

    statement_decide(actor=moderator, statement=statement, decision="reject")

    after = json.loads(_streamed(Client().get(url)))
    assert statement.pk not in {s["id"] for s in after["statements"]}
    assert after["moderated_out_statements"] == before["moderated_out_statements"] + 1


def _streamed(response: object) -> bytes:
    assert isinstance(response, FileResponse)
    return b"".join(cast(Iterator[bytes], response.streaming_content))


def _never_built(*args: object) -> bytes:
    raise AssertionError("a stored export was built again")


def test_building_a_snapshots_downloads_removes_those_no_reader_can_be_served(
    exports_dir: Path,
) -> None:
    seattle = import_and_cluster(slug="seattle")
    report_exports_build(snapshot_id=seattle.snapshot.pk)
    conversation_dir = next(exports_dir.iterdir())
    # Downloads of a snapshot since pruned from the history.
    gone = conversation_dir / "999999-0.000000" / "json-x"
    gone.mkdir(parents=True)
    (gone / "stale").write_bytes(b"{}")
    # A decision after the snapshot makes its stored downloads stale: they are rebuilt.
    moderator = UserFactory.create()
    seattle.conversation.moderators.add(moderator)
    statement = Statement.objects.filter(conversation=seattle.conversation).first()
    assert statement is not None
    statement_decide(actor=moderator, statement=statement, decision="reject")
    # Stale for over a minute: a folder touched just now may be a reader's build under way.
    an_hour_ago = time.time() - 3600
    for folder in next(p for p in conversation_dir.iterdir() if p != gone.parent).iterdir():
        os.utime(folder, (an_hour_ago, an_hour_ago))

    report_exports_build(snapshot_id=seattle.snapshot.pk)

    stored = [p for p in exports_dir.rglob("*") if p.is_file()]
    assert len(stored) == len(FORMATS)
    assert not gone.exists()
