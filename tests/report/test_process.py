"""The process section on the report page and the console dashboard."""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from deliberation.models import StatementStatus
from tests.snapshot_data import clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def _section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end)]


def test_report_shows_the_process_charts_changes_and_definitions() -> None:
    camps = two_camps()
    clustered(camps)
    votes_write([(p, camps.statements[i], 1) for p in camps.camp_b for i in (1, 3, 5)])
    camps.statements[2].status = StatementStatus.REJECTED
    camps.statements[2].text = "A rejected statement nobody may read"
    camps.statements[2].save()
    clustered(camps)

    page = Client().get(f"/report/{camps.conversation.slug}/").content.decode()

    process = _section(page, '<section id="process"', '<section id="methodology"')
    assert process.count('class="chart-figure process-chart"') == 5
    # Statement 2 was rejected after the first snapshot: the second leaves it out, and the
    # shares count accepted statements only (7).
    assert "Polarization fell from 0.75 to 0.37 over 2 snapshots." in process
    assert "common ground rose from 14% to 57% over 2 snapshots." in process
    assert "12 of 24 participants (50%) changed 36 votes; 36 moved towards" in process
    assert "Minority voices" in process
    # The content security policy forbids inline styles and scripts; the statements it
    # quotes are drawn by the shared report/_statement.html, outside this section's own markup.
    own = re.sub(r'<blockquote class="statement">.*?</blockquote>', "", process, flags=re.S)
    assert "<blockquote" in process
    assert "style=" not in own and "<script" not in own
    assert "A rejected statement nobody may read" not in page
    methodology = _section(page, '<section id="methodology"', '<section id="statements"')
    assert "How the conversation's movement is measured" in methodology
    assert "the largest minus the smallest group agreement" in methodology
    assert re.search(r"Early: statements up to id \d+\.", methodology)


def test_dashboard_draws_the_process_charts_once_there_are_results() -> None:
    camps = two_camps()
    owner = camps.conversation.owner
    assert owner is not None
    client = Client()
    client.force_login(owner)
    url = reverse("console:dashboard", args=[camps.conversation.slug])
    assert "These charts appear after the first clustering run." in client.get(url).content.decode()

    clustered(camps)
    page = client.get(url).content.decode()
    process = _section(page, 'id="process-heading"', 'id="groups-actions-heading"')
    assert process.count("<svg") == 5
    assert "Too few snapshots to see a change yet." in process
    assert "style=" not in process
