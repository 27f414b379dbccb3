"""Clustering snapshots: one row per recompute run of a conversation's opinion groups."""

from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import models
from django.utils import timezone

from deliberation.models.conversations import Conversation

# Participant positions are stored packed (about 21 bytes each) rather than as JSON: the
# map of a 33,000-participant conversation then loads as one 700 kB column with no parsing.
POSITION_DTYPE = np.dtype(
    [("participant", "<i8"), ("group", "<i4"), ("x", "<f4"), ("y", "<f4"), ("in_conv", "?")]
)


class SnapshotStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SnapshotManager(models.Manager["Snapshot"]):
    def get_queryset(self) -> models.QuerySet["Snapshot"]:
        # The stored vote arrays run to megabytes and only the next run reads them (by name):
        # nothing else should fetch them with every snapshot it lists.
        return super().get_queryset().defer("vote_arrays")


class Snapshot(models.Model):
    """One run of the clustering job, and what it found.

    ``watermark`` is the id of the last VoteEvent visible when the run read the votes: the
    snapshot includes every vote up to it. ``attempt`` counts claims, so a worker that lost
    its claim (its heartbeat went stale and the run was handed to another worker) cannot
    write its results over the new owner's.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="snapshots"
    )
    status = models.CharField(
        max_length=10, choices=SnapshotStatus.choices, default=SnapshotStatus.QUEUED
    )
    attempt = models.PositiveIntegerField(default=0)
    watermark = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    n_votes = models.IntegerField(null=True, blank=True)
    n_participants = models.IntegerField(null=True, blank=True)
    n_in_conv = models.IntegerField(null=True, blank=True)
    n_statements = models.IntegerField(null=True, blank=True)
    k = models.SmallIntegerField(null=True, blank=True)
    group_sizes = models.JSONField(default=dict, blank=True)
    polarization = models.FloatField(null=True, blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    state = models.JSONField(null=True, blank=True)
    results = models.JSONField(
        null=True, blank=True, help_text="Groups, consensus, per-statement statistics, metrics."
    )
    positions = models.BinaryField(null=True, blank=True)
    # The deduplicated votes this run used, packed, so the next run loads only the votes cast
    # since (services/snapshots.py); kept on the latest succeeded snapshot only.
    vote_arrays = models.BinaryField(null=True, blank=True)

    objects = SnapshotManager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Race: a burst of votes commits many triggers at once. Each tries
            # INSERT ... ON CONFLICT DO NOTHING of a queued run, so one queued run per
            # conversation absorbs the whole burst.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status="queued"),
                name="snapshot_one_queued",
            ),
            # Race: a redelivered task and the reaper both try to start a run; the claim is a
            # conditional UPDATE and this constraint backs it, so one run per conversation
            # computes at a time.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status="running"),
                name="snapshot_one_running",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "status", "id"])]

    def __str__(self) -> str:
        return f"snapshot {self.pk} of {self.conversation_id} ({self.status})"

    def positions_array(self) -> npt.NDArray[Any]:
        """Participant positions (``POSITION_DTYPE``), sorted by participant id."""
        if not self.positions:
            return np.zeros(0, dtype=POSITION_DTYPE)
        return np.frombuffer(bytes(self.positions), dtype=POSITION_DTYPE)


__all__ = ["POSITION_DTYPE", "Snapshot", "SnapshotStatus"]
