"""``manage.py export_report SLUG [--snapshot ID] --format csv|json|pdf --out PATH``."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliberation.errors import AgoraError
from deliberation.services.report_export import FORMATS, report_export


class Command(BaseCommand):
    help = (
        "Export a conversation's report for one snapshot (the latest by default): the Polis "
        "CSV bundle (zip), the JSON document of the snapshot, or the PDF report. Prints the "
        "snapshot id and the file's sha256. PATH may be a file or an existing folder (then "
        "the file is named after the conversation, snapshot and hash)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the conversation's slug")
        parser.add_argument("--snapshot", help="snapshot id (default: the latest succeeded)")
        parser.add_argument("--format", required=True, choices=list(FORMATS), dest="fmt")
        parser.add_argument("--out", required=True, type=Path, help="file or folder to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # The command runs with the operator's full rights: it reads private reports too.
            export = report_export(
                slug=options["slug"],
                user=None,
                snapshot_id=options["snapshot"],
                fmt=options["fmt"],
                trusted=True,
            )
        except AgoraError as error:
            raise CommandError(error.message, returncode=2) from error
        out: Path = options["out"]
        path = out / export.filename if out.is_dir() else out
        try:
            path.write_bytes(export.content)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.", returncode=2) from error
        self.stdout.write(
            f"Wrote {path} ({export.size} bytes): snapshot {export.snapshot_id}, "
            f"sha256 {export.sha256}"
        )
