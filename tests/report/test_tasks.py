import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from pytest_django import DjangoAssertNumQueries

from deliberation.models import Snapshot, SnapshotStatus
from deliberation.report.render import report_page
from deliberation.report.tasks import report_warm_task
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
