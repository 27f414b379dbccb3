"""``manage.py export_polis SLUG DIR``: write a conversation out in Polis's export format."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliberation.models import Conversation
from deliberation.selectors.groups import participant_groups_latest
from deliberation.services.polis_export import polis_export_write


class Command(BaseCommand):
    help = (
        "Write the conversation SLUG into DIR as a Polis export (comments.csv, votes.csv, "
        "participants-votes.csv, summary.csv) that import_polis reads back. group-id holds "
        "each participant's opinion group in the latest clustering snapshot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the conversation's slug")
        parser.add_argument("directory", type=Path, help="the folder to write (created if needed)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Moderator tooling: every conversation, whatever its visibility.
        conversation = Conversation.objects.filter(slug=options["slug"]).first()
        if conversation is None:
            raise CommandError(f"No conversation called {options['slug']!r}.", returncode=2)
        # No snapshot yet (or nobody grouped): no groups, so the group-id column stays empty
        # and summary.csv has no "groups" row, rather than claiming zero groups.
        groups = participant_groups_latest(conversation=conversation) or None
        try:
            written = polis_export_write(
                conversation=conversation, directory=options["directory"], groups=groups
            )
        except OSError as error:
            raise CommandError(f"{error.filename}: {error.strerror}", returncode=2) from error
        for path in written:
            self.stdout.write(str(path))
