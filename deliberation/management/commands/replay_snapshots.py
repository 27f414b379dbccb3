"""``manage.py replay_snapshots SLUG [--points N]``: rebuild an imported conversation's
snapshot history from its vote log, then print the process series."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deliberation.errors import AgoraError
from deliberation.models import Conversation
from deliberation.selectors.process import opinion_change, process_series
from deliberation.services.process_replay import snapshot_history_replay


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = (
        "Re-cluster prefixes of an imported conversation's vote log at evenly spaced moments "
        "and store them as its snapshot history; prints the process series."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug", help="The conversation's slug.")
        parser.add_argument("--points", type=int, default=20, help="Snapshots to replay.")

    def handle(self, *args: Any, slug: str, points: int, **options: Any) -> None:
        conversation = Conversation.objects.filter(slug=slug).first()
        if conversation is None:
            raise CommandError(f"No conversation called {slug!r}.")
        try:
            stored = snapshot_history_replay(conversation_id=conversation.pk, points=points)
        except AgoraError as error:
            raise CommandError(error.message) from error
        series = process_series(conversation=conversation, snapshot=stored[-1])
        self.stdout.write("snapshot  at                votes  k  polarization  common  early  late")
        for point, snapshot in zip(series.points, stored, strict=True):
            self.stdout.write(
                f"{point.snapshot_id:>8}  {point.at:%Y-%m-%d %H:%M}  {snapshot.n_votes:>6}  "
                f"{point.k}  {_fmt(point.polarization):>12}  {_fmt(point.common_ground):>6}  "
                f"{_fmt(point.early):>5}  {_fmt(point.late):>5}"
            )
        for reading in series.readings.values():
            self.stdout.write(reading)
        self.stdout.write(opinion_change(conversation=conversation, snapshot=stored[-1]).reading)
