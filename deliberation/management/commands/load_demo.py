"""Load the demo conversation: a real Polis conversation, with its opinion groups."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_DIR = Path(settings.BASE_DIR) / "data" / "polis" / "15-per-hour-seattle"
DEMO_SLUG = "15-per-hour-seattle"


class Command(BaseCommand):
    help = (
        "Import the demo conversation ($15/hour in Seattle, a real Polis conversation, "
        "CC BY 4.0) and compute its opinion groups. Safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("import_polis", str(DEMO_DIR), "--slug", DEMO_SLUG, stdout=self.stdout)
        call_command("recluster", DEMO_SLUG, "--wait", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo ready: http://127.0.0.1:8000/c/{DEMO_SLUG}/"))
