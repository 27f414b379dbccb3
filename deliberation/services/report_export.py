"""The report's downloads: a JSON document of a snapshot, a Polis CSV bundle, and a PDF.

Every export names its snapshot and carries the sha256 of its bytes (in its file name, and
the page puts it in a header). The JSON document and the CSV bundle are deterministic:
exporting the same snapshot of an unchanged conversation twice gives the same bytes, so a
researcher can check that a file is the one the report cites.
"""

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from deliberation.errors import InvalidInput, NotFound
from deliberation.models import Conversation, Snapshot, Statement
from deliberation.report.render import report_body_html
from deliberation.selectors.groups import snapshot_groups
from deliberation.selectors.report import (
    report_build,
    report_conversation_get,
    report_snapshot_get,
)
from deliberation.selectors.topics import topics_document
from deliberation.services.polis_export import polis_export_files

FORMATS = {
    "json": "application/json",
    "csv": "application/zip",
    "pdf": "application/pdf",
}
JSON_FORMAT_VERSION = 1
# Zip entries carry a modification time; a fixed one keeps the archive's bytes stable.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ATTRIBUTION = (
    "Data gathered using the Polis software (compdemocracy.org/polis) is sub-licensed under "
    "CC BY 4.0 with Attribution to The Computational Democracy Project."
)


@dataclass(frozen=True)
class ExportFile:
    snapshot_id: int
    extension: str
    content_type: str
    content: bytes
    slug: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.slug}-snapshot-{self.snapshot_id}-{self.sha256[:12]}.{self.extension}"


def _canonical_json(document: Any) -> bytes:
    return (
        json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode("utf-8")


def snapshot_document(*, conversation: Conversation, snapshot: Snapshot) -> dict[str, Any]:
    """The whole snapshot as one JSON-ready document: conversation, statements, results and
    every participant's place on the map.

    Participants appear by database id only: external ids can identify people.
    """
    statements = Statement.objects.filter(conversation=conversation).order_by("pk")
    positions = snapshot.positions_array()
    imported = any(s.external_id is not None for s in statements)
    return {
        "format": "agora-snapshot",
        "format_version": JSON_FORMAT_VERSION,
        "conversation": {
            "slug": conversation.slug,
            "topic": conversation.topic,
            "description": conversation.description,
            "created_at": conversation.created_at.isoformat(),
        },
        "snapshot": {
            "id": snapshot.pk,
            "watermark": snapshot.watermark,
            "created_at": snapshot.created_at.isoformat(),
            "finished_at": snapshot.finished_at.isoformat() if snapshot.finished_at else None,
            "k": snapshot.k,
            "n_votes": snapshot.n_votes,
            "n_participants": snapshot.n_participants,
            "n_in_conv": snapshot.n_in_conv,
            "n_statements": snapshot.n_statements,
            "polarization": snapshot.polarization,
        },
        "statements": [
            {
                "id": s.pk,
                "external_id": s.external_id,
                "text": s.text,
                "status": s.status,
                "is_meta": s.is_meta,
                "is_seed": s.is_seed,
                "created_at": s.created_at.isoformat(),
            }
            for s in statements
        ],
        "participants": [
            {
                "id": int(p["participant"]),
                "group": int(p["group"]) if p["group"] >= 0 else None,
                "in_conv": bool(p["in_conv"]),
                "x": float(p["x"]),
                "y": float(p["y"]),
            }
            for p in positions
        ],
        "results": snapshot.results,
        "topics": topics_document(conversation=conversation),
        "licence": ATTRIBUTION if imported else None,
    }


def deterministic_zip(files: Mapping[str, bytes]) -> bytes:
    """A zip of these files whose bytes depend only on the names and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def _export_json(conversation: Conversation, snapshot: Snapshot) -> bytes:
    return _canonical_json(snapshot_document(conversation=conversation, snapshot=snapshot))


def _export_csv(conversation: Conversation, snapshot: Snapshot) -> bytes:
    files = polis_export_files(
        conversation=conversation,
        groups=snapshot_groups(snapshot=snapshot),
        watermark=snapshot.watermark,
    )
    if conversation.statements.filter(external_id__isnull=False).exists():
        files["ATTRIBUTION.txt"] = (ATTRIBUTION + "\n").encode("utf-8")
    manifest = {
        "conversation": conversation.slug,
        "snapshot_id": snapshot.pk,
        "snapshot_watermark": snapshot.watermark,
        "group_ids_from": f"snapshot {snapshot.pk}",
        "sha256": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
    }
    files["manifest.json"] = _canonical_json(manifest)
    return deterministic_zip(files)


def _export_pdf(conversation: Conversation, snapshot: Snapshot) -> bytes:
    # Imported here: WeasyPrint loads Pango at import time, which only this export needs.
    from django.template.loader import render_to_string
    from weasyprint import CSS, HTML

    report = report_build(conversation=conversation, snapshot=snapshot)
    html = render_to_string(
        "report/pdf.html", {"report": report, "body": report_body_html(report, for_pdf=True)}
    )
    stylesheets = [
        CSS(filename=str(settings.BASE_DIR / "static" / "css" / name))
        for name in ("agora.css", "report.css")
    ]
    return bytes(HTML(string=html).write_pdf(stylesheets=stylesheets))


_BUILDERS = {"json": _export_json, "csv": _export_csv, "pdf": _export_pdf}


def report_export(
    *,
    slug: str,
    user: AbstractBaseUser | AnonymousUser | None,
    snapshot_id: object,
    fmt: str,
    trusted: bool = False,
) -> ExportFile:
    """One export of one snapshot, for a reader allowed to see the report (``trusted``:
    an operator's command, which may export any conversation)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Exports come as {', '.join(FORMATS)}, not {fmt!r}.", field="format")
    conversation = report_conversation_get(slug=slug, user=user, trusted=trusted)
    snapshot = report_snapshot_get(conversation=conversation, snapshot_id=snapshot_id)
    if snapshot is None:
        raise NotFound("This conversation has no results to export yet.")
    return ExportFile(
        snapshot_id=snapshot.pk,
        extension="zip" if fmt == "csv" else fmt,
        content_type=FORMATS[fmt],
        content=_BUILDERS[fmt](conversation, snapshot),
        slug=conversation.slug,
    )
