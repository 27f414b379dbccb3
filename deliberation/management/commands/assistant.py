"""``manage.py assistant summarize SLUG | dedupe PAIRS.csv | bridge SLUG``: JSON on stdout."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliberation.errors import AgoraError
from deliberation.services.assistant import (
    assistant_bridge_document,
    assistant_dedupe_pairs,
    assistant_summary_document,
)


class Command(BaseCommand):
    help = (
        "Run the AI assistant from the command line, with the configured provider (offline "
        "when OPENAI_BASE_URL is unset), and print JSON. Every model call is in the AI ledger."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True)
        summarize = commands.add_parser(
            "summarize", help="summarize the latest snapshot of a conversation (stored once)"
        )
        summarize.add_argument("slug")
        dedupe = commands.add_parser(
            "dedupe", help="tier the pairs of a CSV file with columns a,b (two statement texts)"
        )
        dedupe.add_argument("pairs", type=Path, help="the CSV file")
        bridge = commands.add_parser(
            "bridge",
            help="draft bridging statements for the latest snapshot, with per-group forecasts "
            "(stored for the moderators' review)",
        )
        bridge.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["subcommand"] == "summarize":
                result = assistant_summary_document(slug=options["slug"])
            elif options["subcommand"] == "bridge":
                result = assistant_bridge_document(slug=options["slug"])
            else:
                result = assistant_dedupe_pairs(path=options["pairs"])
        except AgoraError as error:
            raise CommandError(error.message, returncode=2) from error
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
