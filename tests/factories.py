"""factory_boy factories for Agora's models. Tests build what they need from these."""

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from deliberation.models import (
    Conversation,
    ModerationMode,
    Participant,
    Statement,
    StatementStatus,
    Visibility,
)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class ConversationFactory(factory.django.DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    slug = factory.Sequence(lambda n: f"conversation-{n}")
    topic = factory.Sequence(lambda n: f"How should the city spend budget {n}?")
    description = "A consultation on the city's priorities."
    moderation_mode = ModerationMode.STRICT
    participants_can_add = True
    is_open = True
    visibility = Visibility.PUBLIC
    owner = factory.SubFactory(UserFactory)


class ParticipantFactory(factory.django.DjangoModelFactory[Participant]):
    class Meta:
        model = Participant

    conversation = factory.SubFactory(ConversationFactory)
    session_key = factory.Sequence(lambda n: f"session{n:032d}")


class StatementFactory(factory.django.DjangoModelFactory[Statement]):
    class Meta:
        model = Statement

    conversation = factory.SubFactory(ConversationFactory)
    text = factory.Sequence(lambda n: f"The city should fund project number {n}.")
    status = StatementStatus.ACCEPTED
    created_at = factory.LazyFunction(timezone.now)
