import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from deliberation.models import AuditAction, AuditLogEntry, Topic, TopicNameSource
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_moderator_renames_a_topic_from_the_dashboard_and_it_is_audited(client: Client) -> None:
    owner = UserFactory.create()
    conversation = ConversationFactory.create(owner=owner)
    Topic.objects.create(
        conversation=conversation,
        number=3,
        name="buses, bus, transit",
        size=20,
        centroid=np.zeros(4, dtype=np.float32).tobytes(),
        spread=0.0,
    )
    client.force_login(owner)
    page = client.get(reverse("console:dashboard", args=[conversation.slug])).content.decode()
    assert "buses, bus, transit" in page and "Keywords of its statements" in page
    url = reverse("console:topic_rename", args=[conversation.slug, 3])
    client.post(url, {"name": "Public transport"})
    topic = Topic.objects.get(conversation=conversation, number=3)
    assert (topic.name, topic.name_source) == ("Public transport", TopicNameSource.MODERATOR)
    assert AuditLogEntry.objects.filter(action=AuditAction.TOPIC_RENAMED).count() == 1
    # An empty name is refused with a message, and changes nothing.
    response = client.post(url, {"name": "  "}, follow=True)
    assert "A topic needs a name." in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).name == "Public transport"


def test_someone_who_does_not_moderate_cannot_rename(client: Client) -> None:
    conversation = ConversationFactory.create()
    Topic.objects.create(
        conversation=conversation,
        number=1,
        name="kept",
        centroid=np.zeros(4, dtype=np.float32).tobytes(),
        spread=0.0,
    )
    client.force_login(UserFactory.create())
    client.post(reverse("console:topic_rename", args=[conversation.slug, 1]), {"name": "X"})
    assert Topic.objects.get(conversation=conversation).name == "kept"
