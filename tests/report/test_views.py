import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from deliberation.models import ReportVisibility, Visibility
from deliberation.report.svg import group_colour
from deliberation.services.assistant import assistant_summarize
from tests.factories import ConversationFactory, UserFactory
from tests.report.real_data import Clustered, cluster

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def test_latest_report_shows_the_conversation_groups_and_downloads(seattle: Clustered) -> None:
    response = Client().get("/report/seattle/")

    assert response.status_code == 200
    page = response.content.decode()
    assert seattle.conversation.topic in page
    assert page.count('class="group"') == seattle.snapshot.k
    assert "<svg" in page and "Opinion map" in page
    assert f"/report/seattle/{seattle.snapshot.pk}/export/pdf/" in page
    assert 'name="robots"' not in page


GROUP_CSS = (settings.BASE_DIR / "static" / "css" / "agora.css").read_text()


def test_group_swatches_take_the_colours_of_the_opinion_map(seattle: Clustered) -> None:
    page = Client().get("/report/seattle/").content.decode()

    for letter in "AB":
        colour = group_colour(letter)
        assert f'<span class="swatch group-{letter}"></span>Group {letter}' in page
        assert f".group-{letter} {{ --group: {colour}; }}" in GROUP_CSS
        assert f'stroke="{colour}"' in page  # its outline on the map


def test_frozen_report_stays_on_its_snapshot_and_points_to_the_latest(seattle: Clustered) -> None:
    newer = cluster(seattle.conversation)

    frozen = Client().get(f"/report/seattle/{seattle.snapshot.pk}/").content.decode()
    latest = Client().get("/report/seattle/").content.decode()

    assert f"Snapshot</dt><dd>#{seattle.snapshot.pk} " in frozen
    assert "This report is frozen" in frozen
    assert f"Snapshot</dt><dd>#{newer.pk} " in latest and "This report is frozen" not in latest


def test_unlisted_reports_are_readable_by_link_but_not_indexed() -> None:
    conversation = ConversationFactory.create(visibility=Visibility.UNLISTED)
    response = Client().get(f"/report/{conversation.slug}/")
    assert response.status_code == 200
    assert '<meta name="robots" content="noindex">' in response.content.decode()


def test_private_reports_are_for_moderators_only() -> None:
    conversation = ConversationFactory.create(visibility=Visibility.PRIVATE)
    moderator = UserFactory.create()
    conversation.moderators.add(moderator)
    client = Client()

    assert client.get(f"/report/{conversation.slug}/").status_code == 404
    client.force_login(moderator)
    assert client.get(f"/report/{conversation.slug}/").status_code == 200


def test_a_report_withheld_until_closing_says_so() -> None:
    conversation = ConversationFactory.create(report_visibility=ReportVisibility.AFTER_CLOSE)
    response = Client().get(f"/report/{conversation.slug}/")
    assert response.status_code == 403
    assert "published once it closes" in response.content.decode()


def test_a_conversation_without_results_gets_a_clear_page() -> None:
    conversation = ConversationFactory.create()
    response = Client().get(f"/report/{conversation.slug}/")
    assert response.status_code == 200
    assert "No results yet" in response.content.decode()


def test_unknown_sort_is_a_clear_400(seattle: Clustered) -> None:
    response = Client().get("/report/seattle/?sort=loudest")
    assert response.status_code == 400
    assert "can be sorted by consensus" in response.content.decode()


def test_sort_links_work_without_javascript(seattle: Clustered) -> None:
    page = Client().get("/report/seattle/?sort=divisiveness").content.decode()
    assert (
        'href="?sort=divisiveness#statements" data-sort="divisiveness" aria-current="true"' in page
    )
    assert "sorted by <span" in page and "divisiveness (one group against the rest)" in page


def test_report_body_is_cached_per_snapshot_and_sort(seattle: Clustered) -> None:
    client = Client()
    client.get("/report/seattle/")
    with CaptureQueriesContext(connection) as cached:
        again = client.get("/report/seattle/")
    with CaptureQueriesContext(connection) as other_sort:
        client.get("/report/seattle/?sort=bridging")

    assert again.status_code == 200
    # Conversation, visibility and snapshot lookups only: no statements, no vote log.
    tables = " ".join(q["sql"] for q in cached)
    assert (
        '"deliberation_voteevent"' not in tables and 'FROM "deliberation_statement"' not in tables
    )
    assert '"deliberation_snapshot"."results"' not in tables
    # Another order is built afresh, but the participation timeline of the snapshot's
    # watermark is reused: the vote log never changes below it.
    other_tables = " ".join(q["sql"] for q in other_sort)
    assert 'FROM "deliberation_statement"' in other_tables
    assert '"deliberation_voteevent"' not in other_tables


def test_export_download_names_its_snapshot_and_hash(seattle: Clustered) -> None:
    response = Client().get(f"/report/seattle/{seattle.snapshot.pk}/export/json/")

    assert response.status_code == 200
    digest = response["X-Content-SHA256"]
    assert response["X-Snapshot-Id"] == str(seattle.snapshot.pk)
    assert response["Content-Disposition"] == (
        f'attachment; filename="seattle-snapshot-{seattle.snapshot.pk}-{digest[:12]}.json"'
    )


def test_export_of_an_unknown_format_or_snapshot_is_refused(seattle: Clustered) -> None:
    assert Client().get(f"/report/seattle/{seattle.snapshot.pk}/export/xls/").status_code == 400
    assert Client().get("/report/seattle/999999/export/json/").status_code == 404


def test_a_summary_written_after_the_first_visit_shows_up_at_once(seattle: Clustered) -> None:
    client = Client()
    assert "Cited:" not in client.get("/report/seattle/").content.decode()

    assistant_summarize(snapshot=seattle.snapshot)

    assert "Cited:" in client.get("/report/seattle/").content.decode()
