import re

import pytest
from django.conf import settings
from django.test import Client

from deliberation.report.svg import UNGROUPED, group_colour
from tests.factories import ConversationFactory
from tests.snapshot_data import clustered, log_in_as_first_of_camp_a, two_camps


@pytest.mark.django_db
def test_panel_shows_the_map_my_group_each_group_and_what_is_shared(client: Client) -> None:
    camps = two_camps()
    snapshot = clustered(camps)
    log_in_as_first_of_camp_a(client, camps)

    response = client.get(f"/c/{camps.conversation.slug}/groups/panel/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f"?known={snapshot.pk}" in html
    assert html.count('<polygon class="hull') == 2
    assert html.count("<circle") == 24 + 1  # everyone, and the "you are here" ring
    assert "You are here" in html
    assert re.search(r"You are in Group [AB]", html)
    assert "You voted like most of your group on\n       8 of 8 statements" in html
    assert "<caption>The groups on the map</caption>" in html
    assert "Group A (12 people)" in html and "Group B (12 people)" in html
    assert camps.statements[-1].text in html.split("What people share")[1]


@pytest.mark.django_db
def test_panel_colours_its_groups_with_the_reports_palette(client: Client) -> None:
    camps = two_camps(per_camp=4)
    clustered(camps)

    html = client.get(f"/c/{camps.conversation.slug}/groups/panel/").content.decode()

    # By class, painted by the stylesheet (no inline style: the Content-Security-Policy).
    css = (settings.BASE_DIR / "static" / "css" / "agora.css").read_text()
    for label, colour in (("A", group_colour("A")), ("B", group_colour("B")), ("none", UNGROUPED)):
        assert label == "none" or f"map-mark group-{label}" in html
        assert f".group-{label} {{ --group: {colour}; }}" in css
    assert "<style" not in html and "style=" not in html


@pytest.mark.django_db
def test_panel_answers_204_while_the_shown_snapshot_is_still_the_latest(client: Client) -> None:
    camps = two_camps(per_camp=4)
    first = clustered(camps)
    url = f"/c/{camps.conversation.slug}/groups/panel/"

    assert client.get(url, {"known": first.pk}).status_code == 204
    second = clustered(camps)
    fresh = client.get(url, {"known": first.pk})
    assert fresh.status_code == 200
    assert f"?known={second.pk}" in fresh.content.decode()


@pytest.mark.django_db
def test_panel_before_any_snapshot_says_so_and_keeps_polling(client: Client) -> None:
    conversation = ConversationFactory.create()

    html = client.get(f"/c/{conversation.slug}/groups/panel/").content.decode()

    assert "No opinion groups yet" in html
    assert 'hx-trigger="every 5s"' in html


@pytest.mark.django_db
def test_groups_hidden_by_the_moderators_are_not_shown(client: Client) -> None:
    camps = two_camps(per_camp=4)
    clustered(camps)
    camps.conversation.show_groups = False
    camps.conversation.save()

    html = client.get(f"/c/{camps.conversation.slug}/groups/").content.decode()

    assert "have not shared" in html
    assert "<svg" not in html


@pytest.mark.django_db
def test_the_conversation_page_embeds_the_groups_panel(client: Client) -> None:
    conversation = ConversationFactory.create()

    html = client.get(f"/c/{conversation.slug}/").content.decode()

    assert f'hx-get="/c/{conversation.slug}/groups/panel/"' in html
