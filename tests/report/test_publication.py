"""Only what the moderators approved is public: every public surface, fetched as a reader.

One conversation holds a pending statement and a rejected one whose texts carry a phone
number, a statement accepted for a snapshot and moved back to pending afterwards (everyone
agreed with it, so it sits in the consensus), and a member known by an id-list xid. None of
those texts, and not the xid, may come out of any public page, download or answer.
"""

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client
from pypdf import PdfReader

from deliberation.assistant.summaries import extractive_summary, summary_facts
from deliberation.models import (
    BridgingSuggestion,
    Participant,
    ReportVisibility,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
    SuggestionStatus,
)
from deliberation.selectors.groups import groups_view
from tests.assistant.conftest import fake_openai, offline  # noqa: F401 (fixtures)
from tests.factories import StatementFactory, UserFactory
from tests.fake_openai import FakeOpenAI
from tests.snapshot_data import Camps, clustered, two_camps, votes_write

pytestmark = pytest.mark.django_db

PENDING = "Pending: ring Jane Roe on +1 555 0100 4242, 12 Elm Street"
REJECTED = "Rejected: Jane's other number is +1 555 0199 7777"
WITHDRAWN = "Withdrawn after the snapshot: call +1 555 0123 9999"
XID = "90817263"
SECRETS = ("555 0100", "555 0199", "555 0123", "Jane", XID)


@dataclass
class Leaky:
    camps: Camps
    snapshot: Snapshot
    member: Participant

    @property
    def slug(self) -> str:
        return self.camps.conversation.slug


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def leaky() -> Leaky:
    camps = two_camps(per_camp=6)
    conversation = camps.conversation
    member = camps.camp_a[0]
    member.xid = XID
    member.save()
    everyone = camps.camp_a + camps.camp_b
    StatementFactory.create(
        conversation=conversation,
        text=PENDING,
        status=StatementStatus.PENDING,
        author_participant=member,
    )
    rejected = StatementFactory.create(
        conversation=conversation, text=REJECTED, author_participant=member
    )
    withdrawn = StatementFactory.create(conversation=conversation, text=WITHDRAWN)
    votes_write(
        [(p, rejected, 1 if p in camps.camp_a else -1) for p in everyone]
        + [(p, withdrawn, 1) for p in everyone]
    )
    Statement.objects.filter(pk=rejected.pk).update(status=StatementStatus.REJECTED)
    snapshot = clustered(camps)
    assert snapshot.status == SnapshotStatus.SUCCEEDED
    # An AI bridging statement the moderators approved, then sent back to pending.
    BridgingSuggestion.objects.create(
        conversation=conversation,
        snapshot=snapshot,
        text=WITHDRAWN,
        original_text=WITHDRAWN,
        source="llm",
        forecast={"0": 0.7, "1": 0.6},
        forecast_bridging=0.6,
        status=SuggestionStatus.APPROVED,
        statement=withdrawn,
    )
    Statement.objects.filter(pk=withdrawn.pk).update(status=StatementStatus.PENDING)
    return Leaky(camps, snapshot, member)


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked through {where}"


def _get(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if response.streaming:  # a download, streamed from storage
        return response.getvalue()
    return bytes(response.content)


def _export(leaky: Leaky, fmt: str) -> bytes:
    return _get(Client(), f"/report/{leaky.slug}/{leaky.snapshot.pk}/export/{fmt}/")


def test_the_report_page_quotes_no_unapproved_statement(leaky: Leaky) -> None:
    for url in (f"/report/{leaky.slug}/", f"/report/{leaky.slug}/{leaky.snapshot.pk}/"):
        assert_clean(_get(Client(), url).decode(), url)


def test_the_json_export_holds_accepted_texts_only_and_counts_the_rejected(
    leaky: Leaky,
) -> None:
    raw = _export(leaky, "json").decode()
    assert_clean(raw, "json")
    document = json.loads(raw)
    statuses = {s["status"] for s in document["statements"]}
    assert statuses == {StatementStatus.ACCEPTED}
    assert document["moderated_out_statements"] == 1
    withdrawn = Statement.objects.get(text=WITHDRAWN).pk
    assert str(withdrawn) not in document["results"]["statements"]


def test_the_json_export_numbers_participants_0_to_n_never_by_database_id(
    leaky: Leaky,
) -> None:
    document = json.loads(_export(leaky, "json"))
    ids = [p["id"] for p in document["participants"]]
    assert sorted(ids) == list(range(len(ids)))
    assert set(ids) != set(Participant.objects.values_list("pk", flat=True))


def _bundle(leaky: Leaky, fmt: str) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(_export(leaky, fmt)))
    return {name: archive.read(name).decode() for name in archive.namelist()}


@pytest.mark.parametrize("fmt", ["csv", "spreadsheet"])
def test_csv_downloads_quote_no_unapproved_statement_and_no_xid(leaky: Leaky, fmt: str) -> None:
    files = _bundle(leaky, fmt)
    for name, text in files.items():
        assert_clean(text, f"{fmt} {name}")
    voters = {row["voter-id"] for row in csv.DictReader(io.StringIO(files["votes.csv"]))} | {
        row["participant"] for row in csv.DictReader(io.StringIO(files["participants-votes.csv"]))
    }
    assert voters == {str(n) for n in range(len(voters))}
    comments = list(csv.DictReader(io.StringIO(files["comments.csv"])))
    assert {row["moderated"] for row in comments} == {"1"}
    assert json.loads(files["manifest.json"])["moderated_out_statements"] == 1


def test_the_pdf_quotes_no_unapproved_statement(leaky: Leaky) -> None:
    pdf = PdfReader(io.BytesIO(_export(leaky, "pdf")))
    assert_clean(" ".join(page.extract_text() for page in pdf.pages), "pdf")


def test_the_groups_api_and_pages_quote_no_unapproved_statement(leaky: Leaky) -> None:
    client = Client()
    for url in (
        f"/api/v1/conversations/{leaky.slug}/groups/",
        f"/c/{leaky.slug}/groups/",
        f"/c/{leaky.slug}/groups/panel/",
    ):
        assert_clean(_get(client, url).decode(), url)
    leaky.member.user = UserFactory.create()
    leaky.member.save()
    client.force_login(leaky.member.user)
    me = _get(client, f"/api/v1/conversations/{leaky.slug}/me/").decode()
    assert_clean(me, "me")


@pytest.mark.usefixtures("offline")
def test_the_assistant_explains_the_groups_without_unapproved_statements(leaky: Leaky) -> None:
    response = Client().post(
        f"/c/{leaky.slug}/assistant/chat/", {"intent": "groups"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert_clean(response.content.decode(), "assistant groups answer")


def test_the_model_is_never_shown_unapproved_statements(
    leaky: Leaky,
    fake_openai: FakeOpenAI,  # noqa: F811 (the imported fixture)
) -> None:
    fake_openai.queue_chat({"reply": "Both groups agree on one thing."})
    Client().post(
        f"/c/{leaky.slug}/assistant/chat/",
        {"intent": "ask", "text": "What do the groups share?"},
        HTTP_HX_REQUEST="true",
    )
    prompt = json.dumps(fake_openai.chat_requests()[-1]["messages"], ensure_ascii=False)
    assert_clean(prompt, "the chat prompt")


def test_a_report_for_moderators_only_closes_the_groups_to_everyone_else(
    leaky: Leaky,
) -> None:
    conversation = leaky.camps.conversation
    conversation.report_visibility = ReportVisibility.MODERATORS
    conversation.save()
    client = Client()

    api = client.get(f"/api/v1/conversations/{leaky.slug}/groups/")
    assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/conversations/{leaky.slug}/snapshots/").status_code == 403
    for url in (f"/c/{leaky.slug}/groups/", f"/c/{leaky.slug}/groups/panel/"):
        html = _get(client, url).decode()
        assert "keep its report private" in html and "Group A" not in html
    leaky.member.user = UserFactory.create()
    leaky.member.save()
    client.force_login(leaky.member.user)
    assert client.get(f"/api/v1/conversations/{leaky.slug}/me/").status_code == 403
    moderator = UserFactory.create()
    conversation.moderators.add(moderator)
    client.force_login(moderator)
    assert client.get(f"/api/v1/conversations/{leaky.slug}/groups/").status_code == 200


def test_the_public_snapshot_list_carries_no_exception_text(leaky: Leaky) -> None:
    Snapshot.objects.create(
        conversation=leaky.camps.conversation,
        status=SnapshotStatus.FAILED,
        error="OperationalError: password authentication failed for user agora",
    )
    body = _get(Client(), f"/api/v1/conversations/{leaky.slug}/snapshots/").decode()
    assert "failed" in body
    assert "OperationalError" not in body and "password" not in body


def test_the_spreadsheet_copy_neutralises_formulas_the_polis_bundle_keeps_raw(
    leaky: Leaky,
) -> None:
    formula = '=HYPERLINK("http://evil.example","Click")'
    StatementFactory.create(conversation=leaky.camps.conversation, text=formula)
    html = _get(Client(), f"/report/{leaky.slug}/").decode()
    assert "/export/spreadsheet/" in html and "never runs a statement as a formula" in html

    raw = list(csv.DictReader(io.StringIO(_bundle(leaky, "csv")["comments.csv"])))
    sheet_files = _bundle(leaky, "spreadsheet")
    sheet = list(csv.DictReader(io.StringIO(sheet_files["comments.csv"])))
    assert formula in [row["comment-body"] for row in raw]
    assert "'" + formula in [row["comment-body"] for row in sheet]
    votes = list(csv.DictReader(io.StringIO(sheet_files["votes.csv"])))
    assert "-1" in {row["vote"] for row in votes}


def test_what_the_summaries_are_written_from_holds_accepted_statements_only(
    leaky: Leaky,
) -> None:
    view = groups_view(snapshot=leaky.snapshot)
    facts = summary_facts(view)
    groups, overview = extractive_summary(view, facts)
    assert_clean(repr(facts) + json.dumps([groups, overview], ensure_ascii=False), "summaries")
