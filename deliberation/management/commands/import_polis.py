"""``manage.py import_polis DIR --slug SLUG``: bring a Polis export into Agora."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliberation.errors import AgoraError
from deliberation.models import Visibility
from deliberation.services.polis_import import polis_import


class Command(BaseCommand):
    help = (
        "Import a Polis export folder (comments.csv, votes.csv or participants-votes.csv, "
        "summary.csv) into the conversation SLUG, creating it if needed. Safe to run again: "
        "only what is missing is added. A malformed file is refused as a whole with one "
        "line naming the file and line (exit status 2). A comment that cannot be a statement as "
        "exported (empty, too long) is imported as rejected, with a warning."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="the Polis export folder")
        parser.add_argument("--slug", required=True, help="the conversation's slug in Agora")
        parser.add_argument("--topic", help="use this topic instead of the export's")
        parser.add_argument(
            "--visibility",
            choices=Visibility.values,
            default=Visibility.PUBLIC,
            help="visibility of a newly created conversation (default: public)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = polis_import(
                directory=options["directory"],
                slug=options["slug"],
                topic=options["topic"],
                visibility=options["visibility"],
            )
        except AgoraError as error:
            raise CommandError(error.message, returncode=2) from error
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        verb = "Created" if result.created else "Updated"
        summary = (
            f"{verb} {result.conversation.slug!r} from {result.votes_file}: added "
            f"{result.participants_added} participants, {result.statements_added} statements, "
            f"{result.vote_events_added} vote events; wrote {result.votes_written} votes."
        )
        if result.statements_rejected_on_import:
            summary += (
                f" {result.statements_rejected_on_import} comments could not be statements as "
                "exported (empty, too long or holding control characters): imported as "
                "rejected, see the warnings."
            )
        self.stdout.write(summary)
