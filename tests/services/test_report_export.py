import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from pypdf import PdfReader

from deliberation.errors import InvalidInput, NotFound
from deliberation.models import Conversation, StatementStatus, Visibility, Vote
from deliberation.selectors.groups import snapshot_groups
from deliberation.services.polis_export import participant_pseudonyms
from deliberation.services.report_export import (
    ZIP_TIMESTAMP,
    deterministic_zip,
    report_export,
)
from deliberation.services.votes import vote_cast
from tests.factories import ConversationFactory
from tests.report.real_data import Clustered, import_and_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def seattle() -> Clustered:
    return import_and_cluster(slug="seattle")


def _export(clustered: Clustered, fmt: str) -> tuple[bytes, str, str]:
    export = report_export(
        slug=clustered.conversation.slug,
        user=AnonymousUser(),
        snapshot_id=clustered.snapshot.pk,
        fmt=fmt,
    )
    assert export.snapshot_id == clustered.snapshot.pk
    assert export.sha256 == hashlib.sha256(export.content).hexdigest()
    assert export.filename == (
        f"seattle-snapshot-{clustered.snapshot.pk}-{export.sha256[:12]}.{export.extension}"
    )
    return export.content, export.sha256, export.content_type


def _latest_votes(conversation: Conversation) -> dict[tuple[str | None, str | None], int]:
    return {
        (xid, external_id): value
        for xid, external_id, value in Vote.objects.filter(conversation=conversation).values_list(
            "participant__xid", "statement__external_id", "value"
        )
    }


def test_json_export_holds_the_whole_snapshot_and_is_byte_identical_twice(
    seattle: Clustered,
) -> None:
    first, digest, content_type = _export(seattle, "json")
    second, _, _ = _export(seattle, "json")

    assert first == second and content_type == "application/json"
    document = json.loads(first)
    snapshot = seattle.snapshot
    assert document["snapshot"]["id"] == snapshot.pk
    assert document["snapshot"]["watermark"] == snapshot.watermark
    assert document["results"] == json.loads(json.dumps(snapshot.results))
    assert len(document["participants"]) == snapshot.n_participants
    placed = [p for p in document["participants"] if p["group"] is not None]
    assert len(placed) == sum(g["size"] for g in document["results"]["groups"])
    statements = seattle.conversation.statements
    assert {s["id"] for s in document["statements"]} == set(
        statements.filter(status=StatementStatus.ACCEPTED).values_list("pk", flat=True)
    )
    assert document["moderated_out_statements"] == (
        statements.filter(status=StatementStatus.REJECTED).count()
    )
    assert "CC BY 4.0" in document["licence"]
    assert digest == hashlib.sha256(first).hexdigest()


def test_csv_bundle_is_deterministic_with_a_manifest_of_hashes(seattle: Clustered) -> None:
    first, _, content_type = _export(seattle, "csv")
    second, _, _ = _export(seattle, "csv")

    assert first == second and content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(first))
    names = archive.namelist()
    assert names == sorted(names)
    assert {"comments.csv", "votes.csv", "participants-votes.csv", "summary.csv"} <= set(names)
    assert all(info.date_time == ZIP_TIMESTAMP for info in archive.infolist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["snapshot_id"] == seattle.snapshot.pk
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert b"CC BY 4.0" in archive.read("ATTRIBUTION.txt")


def test_csv_bundle_carries_the_snapshots_groups(seattle: Clustered) -> None:
    content, _, _ = _export(seattle, "csv")
    rows = zipfile.ZipFile(io.BytesIO(content)).read("participants-votes.csv").decode()
    header, *lines = rows.splitlines()
    assert header.startswith("participant,group-id")
    group_ids = {line.split(",")[1] for line in lines} - {""}
    assert group_ids == {str(g["id"]) for g in seattle.snapshot.results["groups"]}  # type: ignore[index]
    placed = sum(1 for line in lines if line.split(",")[1] != "")
    assert placed == len(snapshot_groups(snapshot=seattle.snapshot)) == seattle.snapshot.n_in_conv


def test_csv_bundle_reimports_to_the_same_published_votes(
    seattle: Clustered, tmp_path: Path
) -> None:
    content, _, _ = _export(seattle, "csv")
    zipfile.ZipFile(io.BytesIO(content)).extractall(tmp_path)

    call_command("import_polis", str(tmp_path), slug="seattle-again", stdout=io.StringIO())

    again = Conversation.objects.get(slug="seattle-again")
    numbers = participant_pseudonyms(
        conversation=seattle.conversation, watermark=seattle.snapshot.watermark
    )
    published = {
        (str(numbers[participant]), external_id): value
        for participant, external_id, value in Vote.objects.filter(
            conversation=seattle.conversation, statement__status=StatementStatus.ACCEPTED
        ).values_list("participant_id", "statement__external_id", "value")
    }
    assert len(published) > 0.9 * Vote.objects.filter(conversation=seattle.conversation).count()
    assert _latest_votes(again) == published


def test_pdf_export_is_a_pdf_whose_text_carries_the_report(seattle: Clustered) -> None:
    content, _, content_type = _export(seattle, "pdf")

    assert content.startswith(b"%PDF") and content_type == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    flat = " ".join(text.split())
    assert seattle.conversation.topic in flat
    assert f"snapshot #{seattle.snapshot.pk}" in flat
    assert "Opinion groups" in flat and "How these results were made" in flat
    representative = seattle.snapshot.results["groups"][0]["representative"][0]  # type: ignore[index]
    statement = seattle.conversation.statements.get(pk=int(representative["statement"]))
    assert " ".join(statement.text.split())[:40] in flat


def test_unknown_formats_are_refused_by_name(seattle: Clustered) -> None:
    with pytest.raises(InvalidInput, match="json, csv, spreadsheet, pdf"):
        report_export(slug="seattle", user=None, snapshot_id=seattle.snapshot.pk, fmt="xlsx")


def test_exports_follow_the_reports_visibility() -> None:
    conversation = ConversationFactory.create(visibility=Visibility.PRIVATE)
    with pytest.raises(NotFound):
        report_export(slug=conversation.slug, user=AnonymousUser(), snapshot_id=None, fmt="json")


def test_a_conversation_without_results_has_nothing_to_export() -> None:
    conversation = ConversationFactory.create()
    with pytest.raises(NotFound, match="no results"):
        report_export(slug=conversation.slug, user=None, snapshot_id=None, fmt="json")


def test_deterministic_zip_ignores_the_order_files_are_given_in() -> None:
    files = {"b.csv": b"2\n", "a.csv": b"1\n"}
    assert deterministic_zip(files) == deterministic_zip(dict(reversed(list(files.items()))))
    assert zipfile.ZipFile(io.BytesIO(deterministic_zip(files))).namelist() == ["a.csv", "b.csv"]


def test_csv_bundle_stays_frozen_at_its_snapshot_when_votes_arrive(seattle: Clustered) -> None:
    before, _, _ = _export(seattle, "csv")
    vote = Vote.objects.filter(conversation=seattle.conversation).select_related(
        "participant", "statement"
    )[0]
    vote_cast(participant=vote.participant, statement=vote.statement, value=-vote.value or 1)

    after, _, _ = _export(seattle, "csv")

    assert after == before
