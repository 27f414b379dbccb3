"""The report's downloads: a JSON document of a snapshot, a Polis CSV bundle, and a PDF.

Every export names its snapshot and carries the sha256 of its bytes (in its file name, and
the page puts it in a header). The JSON document and the CSV bundle are deterministic:
exporting the same snapshot of an unchanged conversation twice gives the same bytes, so a
researcher can check that a file is the one the report cites.
"""

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from deliberation.errors import InvalidInput, NotFound
from deliberation.models import (
    Conversation,
    Snapshot,
    SnapshotStatus,
    Statement,
    StatementStatus,
)
from deliberation.report.render import report_body_html
from deliberation.selectors.groups import snapshot_groups
from deliberation.selectors.process import process_document
from deliberation.selectors.report import (
    report_build,
    report_conversation_get,
    report_freshness,
    report_snapshot_get,
)
from deliberation.selectors.topics import topics_document
from deliberation.services.polis_export import (
    participant_pseudonyms,
    polis_export_files,
    spreadsheet_safe_csv,
)

FORMATS = {
    "json": "application/json",
    "csv": "application/zip",
    "spreadsheet": "application/zip",
    "pdf": "application/pdf",
}
EXTENSIONS = {"json": "json", "csv": "zip", "spreadsheet": "spreadsheet.zip", "pdf": "pdf"}
JSON_FORMAT_VERSION = 1
# Zip entries carry a modification time; a fixed one keeps the archive's bytes stable.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ATTRIBUTION = (
    "Data gathered using the Polis software (compdemocracy.org/polis) is sub-licensed under "
    "CC BY 4.0 with Attribution to The Computational Democracy Project."
)


@dataclass(frozen=True)
class ExportFile:
    """A built export, stored under ``AGORA_EXPORTS_DIR``: read it with ``open`` (streamed)
    or ``content`` (whole)."""

    snapshot_id: int
    extension: str
    content_type: str
    path: Path
    slug: str

    @property
    def sha256(self) -> str:
        # The stored file is named after its digest.
        return self.path.name

    @property
    def content(self) -> bytes:
        return self.path.read_bytes()

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def open(self) -> BinaryIO:
        return self.path.open("rb")

    @property
    def filename(self) -> str:
        return f"{self.slug}-snapshot-{self.snapshot_id}-{self.sha256[:12]}.{self.extension}"


def _canonical_json(document: Any) -> bytes:
    return (
        json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode("utf-8")


def _published_results(
    results: dict[str, Any], accepted: set[int], rejected: set[int]
) -> dict[str, Any]:
    """The snapshot's results without the statements the public may not see: a statement
    that is pending now (sent back after the snapshot) is gone, and a statement that is not
    accepted is never a group's representative or a consensus entry. Rejected statements
    keep their numbers under their id: counted, never quoted (no text is stored here); the
    statuses are today's, like the statements'."""
    statements = {
        sid: stats
        for sid, stats in results.get("statements", {}).items()
        if int(sid) in accepted or int(sid) in rejected
    }
    published = {**results}
    if results.get("sensitivity", {}).get("flagged"):
        published["sensitivity"] = {
            **results["sensitivity"],
            **{
                name: [pk for pk in results["sensitivity"][name] if pk in accepted]
                for name in ("top_consensus", "top_consensus_without")
            },
        }
    return {
        **published,
        "statements": statements,
        "groups": [
            {
                **group,
                "representative": [
                    r for r in group.get("representative", []) if int(r["statement"]) in accepted
                ],
            }
            for group in results.get("groups", [])
        ],
        "consensus": {
            direction: [item for item in items if int(item["statement"]) in accepted]
            for direction, items in results.get("consensus", {}).items()
        },
    }


def snapshot_document(*, conversation: Conversation, snapshot: Snapshot) -> dict[str, Any]:
    """The whole published snapshot as one JSON-ready document: conversation, accepted
    statements, results and every participant's place on the map.

    Rejected statements are counted, pending ones left out; participants appear under the
    export's own numbers (``participant_pseudonyms``), never an id that could name them.
    """
    statements = Statement.objects.filter(
        conversation=conversation, status=StatementStatus.ACCEPTED
    ).order_by("pk")
    numbers = participant_pseudonyms(conversation=conversation, watermark=snapshot.watermark)
    rejected = set(
        conversation.statements.filter(status=StatementStatus.REJECTED).values_list("pk", flat=True)
    )
    # Everyone on the map voted up to the watermark, so everyone has a number.
    positions = [p for p in snapshot.positions_array() if int(p["participant"]) in numbers]
    imported = conversation.statements.filter(external_id__isnull=False).exists()
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
        "moderated_out_statements": len(rejected),
        "participants": sorted(
            (
                {
                    "id": numbers[int(p["participant"])],
                    "group": int(p["group"]) if p["group"] >= 0 else None,
                    "in_conv": bool(p["in_conv"]),
                    "x": float(p["x"]),
                    "y": float(p["y"]),
                }
                for p in positions
            ),
            key=lambda row: row["id"],
        ),
        "results": _published_results(snapshot.results or {}, {s.pk for s in statements}, rejected),
        "process": process_document(
            report=report_build(conversation=conversation, snapshot=snapshot)
        ),
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


def _polis_bundle(conversation: Conversation, snapshot: Snapshot) -> dict[str, bytes]:
    """The public Polis files of a snapshot (published statements, numbered participants)."""
    return polis_export_files(
        conversation=conversation,
        groups=snapshot_groups(snapshot=snapshot),
        watermark=snapshot.watermark,
        public=True,
    )


def _zip_with_manifest(
    conversation: Conversation, snapshot: Snapshot, files: dict[str, bytes]
) -> bytes:
    if conversation.statements.filter(external_id__isnull=False).exists():
        files["ATTRIBUTION.txt"] = (ATTRIBUTION + "\n").encode("utf-8")
    manifest = {
        "conversation": conversation.slug,
        "snapshot_id": snapshot.pk,
        "snapshot_watermark": snapshot.watermark,
        "group_ids_from": f"snapshot {snapshot.pk}",
        "participants": "numbered 0..N-1 for this export, in the order they first voted",
        "moderated_out_statements": conversation.statements.filter(
            status=StatementStatus.REJECTED
        ).count(),
        "sha256": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
    }
    files["manifest.json"] = _canonical_json(manifest)
    return deterministic_zip(files)


def _export_csv(conversation: Conversation, snapshot: Snapshot) -> bytes:
    return _zip_with_manifest(conversation, snapshot, _polis_bundle(conversation, snapshot))


def _export_spreadsheet(conversation: Conversation, snapshot: Snapshot) -> bytes:
    files = {
        name: spreadsheet_safe_csv(content)
        for name, content in _polis_bundle(conversation, snapshot).items()
    }
    return _zip_with_manifest(conversation, snapshot, files)


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


_BUILDERS = {
    "json": _export_json,
    "csv": _export_csv,
    "spreadsheet": _export_spreadsheet,
    "pdf": _export_pdf,
}


def _conversation_dir(conversation: Conversation) -> Path:
    # The creation time keeps a recreated database from reading another conversation's files.
    return (
        Path(settings.AGORA_EXPORTS_DIR)
        / f"{conversation.pk}-{conversation.created_at.timestamp():.6f}"
    )


def _snapshot_dir_name(snapshot: Snapshot) -> str:
    return f"{snapshot.pk}-{snapshot.created_at.timestamp():.6f}"


def _stored_dir(conversation: Conversation, snapshot: Snapshot, fmt: str) -> Path:
    """Where one export of one snapshot is kept: the freshness token (report_freshness) is
    part of the path, so a moderator's decision after the snapshot (a statement rejected, a
    participant excluded) leads to a new file, never to serving the old one."""
    freshness = report_freshness(conversation=conversation, snapshot=snapshot)
    return _conversation_dir(conversation) / _snapshot_dir_name(snapshot) / f"{fmt}-{freshness}"


def _stored_prune(*, conversation: Conversation, snapshot: Snapshot) -> None:
    """Remove the stored downloads no reader can be served any more: those of snapshots
    pruned from the history, and this snapshot's under an older freshness token. A reader
    streaming a removed file keeps reading it (the file lives until it is closed)."""
    kept = {
        _snapshot_dir_name(kept)
        for kept in Snapshot.objects.filter(
            conversation=conversation, status=SnapshotStatus.SUCCEEDED
        ).only("pk", "created_at")
    }
    current = {_stored_dir(conversation, snapshot, fmt).name for fmt in FORMATS}
    # Race: a reader may be building under a token newer than the one read here; a folder
    # touched in the last minute is left for the next build to judge.
    settled = time.time() - 60
    root = _conversation_dir(conversation)
    for snapshot_dir in root.iterdir() if root.is_dir() else []:
        if snapshot_dir.name not in kept:
            shutil.rmtree(snapshot_dir, ignore_errors=True)
        elif snapshot_dir.name == _snapshot_dir_name(snapshot):
            for stale in snapshot_dir.iterdir():
                if stale.name not in current and stale.stat().st_mtime < settled:
                    shutil.rmtree(stale, ignore_errors=True)


def _stored(directory: Path) -> Path | None:
    names = sorted(os.listdir(directory)) if directory.is_dir() else []
    files = [name for name in names if not name.startswith(".")]
    return directory / files[0] if files else None


def _build_and_store(
    conversation: Conversation, snapshot: Snapshot, fmt: str, directory: Path
) -> Path:
    content = _BUILDERS[fmt](conversation, snapshot)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / hashlib.sha256(content).hexdigest()
    # Race: two readers (or the task and a reader) build the same export at once. Each writes
    # a private temporary file and renames it into place, an atomic replace on one
    # filesystem, so no reader ever streams a half-written file.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".building-")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.replace(temporary, final)
    return final


def _export_file(conversation: Conversation, snapshot: Snapshot, fmt: str) -> ExportFile:
    """The stored export, built now if no one has built it yet for this freshness."""
    directory = _stored_dir(conversation, snapshot, fmt)
    path = _stored(directory) or _build_and_store(conversation, snapshot, fmt, directory)
    return ExportFile(
        snapshot_id=snapshot.pk,
        extension=EXTENSIONS[fmt],
        content_type=FORMATS[fmt],
        path=path,
        slug=conversation.slug,
    )


def report_exports_build(*, snapshot_id: int) -> list[str]:
    """Build and store every download of a snapshot, so that no reader waits for one; the
    formats built (none when the snapshot is gone). Safe to run twice: what is stored stays;
    what no reader can be served any more is removed."""
    snapshot = (
        Snapshot.objects.select_related("conversation")
        .filter(pk=snapshot_id, status=SnapshotStatus.SUCCEEDED)
        .first()
    )
    if snapshot is None:
        return []
    for fmt in FORMATS:
        _export_file(snapshot.conversation, snapshot, fmt)
    _stored_prune(conversation=snapshot.conversation, snapshot=snapshot)
    return list(FORMATS)


def report_export(
    *,
    slug: str,
    user: AbstractBaseUser | AnonymousUser | None,
    snapshot_id: object,
    fmt: str,
    trusted: bool = False,
) -> ExportFile:
    """One export of one snapshot, for a reader allowed to see the report (``trusted``:
    an operator's command, which may export any conversation). Served from storage when the
    snapshot's task (or an earlier reader) built it; otherwise built now, once."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Exports come as {', '.join(FORMATS)}, not {fmt!r}.", field="format")
    conversation = report_conversation_get(slug=slug, user=user, trusted=trusted)
    snapshot = report_snapshot_get(conversation=conversation, snapshot_id=snapshot_id)
    if snapshot is None:
        raise NotFound("This conversation has no results to export yet.")
    return _export_file(conversation, snapshot, fmt)
