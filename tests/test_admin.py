import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from deliberation.models import (
    AuditLogEntry,
)
from tests.factories import ParticipantFactory, StatementFactory, UserFactory
from tests.snapshot_data import votes_write

pytestmark = pytest.mark.django_db

# Every model of the app, so a model added later without an admin fails here.
MODELS: list[type[Model]] = list(apps.get_app_config("deliberation").get_models())


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_model_is_registered_with_columns_filters_and_search(model: type[Model]) -> None:
    model_admin = admin.site._registry[model]
    assert len(model_admin.list_display) > 2
    assert model_admin.list_filter
    assert model_admin.search_fields


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_renders_and_searches_for_staff(model: type[Model]) -> None:
    statement = StatementFactory.create()
    participant = ParticipantFactory.create(conversation=statement.conversation)
    votes_write([(participant, statement, 1)])
    client = Client()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    url = reverse(f"admin:deliberation_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "city"}).status_code == 200


def test_audit_log_cannot_be_edited_in_the_admin() -> None:
    model_admin = admin.site._registry[AuditLogEntry]
    request = type("Request", (), {"user": UserFactory.create(is_superuser=True)})()
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
