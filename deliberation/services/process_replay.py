"""Replaying a conversation's history into snapshots, for the process charts.

An imported conversation (``import_polis``) arrives with its whole vote log and no snapshot
history, so "how did it move?" has nothing to draw. This re-clusters prefixes of the log, an
equal number of votes apart, with the live pipeline, as if a run had happened then, and
stores each as a succeeded snapshot dated at its last vote.
"""

import dataclasses

import numpy as np
from django.db import transaction

from deliberation.errors import Conflict, InvalidInput
from deliberation.models import Snapshot, SnapshotStatus, VoteEvent
from deliberation.services.snapshots import _results_fields, snapshot_load_input

MAX_REPLAY_POINTS = 200


def _latest_per_pair(
    participants: np.ndarray, statements: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last value of each (participant, statement) pair of a log in time order."""
    keys = np.stack([participants, statements], axis=1)[::-1]
    _, first = np.unique(keys, axis=0, return_index=True)
    last = len(participants) - 1 - first
    return participants[last], statements[last], values[last]


def snapshot_history_replay(*, conversation_id: int, points: int = 20) -> list[Snapshot]:
    """Store ``points`` snapshots of the vote log, cut after every ``1/points`` of its votes.

    Each cut takes every event up to that moment (re-votes resolved to the latest), today's
    moderation and exclusions, and the previous cut's state (so the k-smoother runs as it
    would have live). Refused for a conversation that already has snapshots: replayed runs
    would interleave with real ones.
    """
    if not 1 <= points <= MAX_REPLAY_POINTS:
        raise InvalidInput(f"Replay between 1 and {MAX_REPLAY_POINTS} points, not {points}.")
    if Snapshot.objects.filter(conversation_id=conversation_id).exists():
        raise Conflict("This conversation already has snapshots; replay is for a fresh import.")
    log = list(
        VoteEvent.objects.filter(conversation_id=conversation_id)
        .order_by("id")
        .values_list("id", "participant_id", "statement_id", "value", "created_at")
    )
    if not log:
        raise InvalidInput("This conversation has no votes to replay.")
    current = snapshot_load_input(conversation_id=conversation_id)
    ids = np.array([e[0] for e in log], dtype=np.int64)
    participants = np.array([e[1] for e in log], dtype=np.int64)
    statements = np.array([e[2] for e in log], dtype=np.int64)
    values = np.array([e[3] for e in log], dtype=np.int8)
    seconds = np.array([e[4].timestamp() for e in log])
    # Statements the live run leaves out (pending) stay out of every cut.
    counted = np.isin(statements, current.statements)
    # Cuts at equal numbers of votes: real conversations get most votes early and then a
    # long tail, which cuts equally spaced in time would spend on a few votes. A cut takes
    # every vote cast in the same instant as its last one, so each is a moment in time.
    counts = np.round(np.linspace(len(log) / points, len(log), points)).astype(np.int64)
    ends = sorted(
        {int(np.searchsorted(seconds, seconds[max(n, 1) - 1], side="right")) for n in counts}
    )
    stored = []
    state = None
    for end in ends:
        keep = counted[:end]
        p, s, v = _latest_per_pair(
            participants[:end][keep], statements[:end][keep], values[:end][keep]
        )
        fields = _results_fields(
            dataclasses.replace(
                current,
                watermark=int(ids[end - 1]),
                participants=p,
                statements=s,
                values=v,
                previous_state=state,
                vote_arrays=None,
            )
        )
        state = fields["state"]
        at = log[end - 1][4]
        with transaction.atomic():
            stored.append(
                Snapshot.objects.create(
                    conversation_id=conversation_id,
                    status=SnapshotStatus.SUCCEEDED,
                    created_at=at,
                    started_at=at,
                    finished_at=at,
                    **fields,
                )
            )
    return stored
