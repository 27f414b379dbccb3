"""The opinion groups in the API: the latest groups, where I stand, and the snapshot history.

All three read the latest succeeded clustering snapshot (deliberation.selectors.groups).
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deliberation.api.errors import ErrorSerializer
from deliberation.errors import NotFound
from deliberation.identity import request_participant, request_read_require
from deliberation.models import Snapshot
from deliberation.selectors.conversations import conversation_get
from deliberation.selectors.groups import (
    groups_require_visible,
    groups_view,
    participant_position,
    snapshot_history,
    snapshot_latest_for_viewer,
)

NO_GROUPS = OpenApiResponse(
    ErrorSerializer,
    description="No such conversation, or no opinion groups computed yet (code not_found).",
)
HIDDEN = OpenApiResponse(
    ErrorSerializer,
    description=(
        "The moderators have not shared the groups with participants, or keep the report "
        "(whose content the groups are) private or until the conversation closes."
    ),
)


class StatementRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    text = serializers.CharField()


class TallySerializer(serializers.Serializer[Any]):
    agree = serializers.IntegerField()
    disagree = serializers.IntegerField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # "pass" is a Python keyword, so it cannot be declared in the class body.
        fields["pass"] = serializers.IntegerField(source="passes")
        return fields


class RepresentativeSerializer(serializers.Serializer[Any]):
    statement = StatementRefSerializer()
    direction = serializers.ChoiceField(choices=["agree", "disagree"])
    p = serializers.FloatField(
        allow_null=True, help_text="The group's smoothed agreement (agree) or disagreement."
    )
    tally = TallySerializer(help_text="The group's votes on this statement.")


class GroupSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="Stable across snapshots.")
    # DRF takes declared fields off the class; mypy still sees Field.label under it.
    label = serializers.CharField(help_text="A, B, C... derived from the id.")  # type: ignore[assignment]
    size = serializers.IntegerField()
    representative = RepresentativeSerializer(many=True)


class ConsensusSerializer(serializers.Serializer[Any]):
    statement = StatementRefSerializer()
    direction = serializers.ChoiceField(choices=["agree", "disagree"])
    p = serializers.FloatField(allow_null=True)


class StatementStatsSerializer(serializers.Serializer[Any]):
    statement = StatementRefSerializer()
    groups = serializers.DictField(child=TallySerializer(), help_text="Votes per group id.")
    gac = serializers.FloatField(allow_null=True, help_text="Group-aware consensus.")
    gac_norm = serializers.FloatField(allow_null=True)
    bridging = serializers.FloatField(allow_null=True, help_text="Lowest group agreement.")
    polarization = serializers.FloatField(allow_null=True)
    divisiveness = serializers.FloatField(allow_null=True)
    extremity = serializers.FloatField(allow_null=True)
    priority = serializers.FloatField(allow_null=True)
    cn_intercept = serializers.FloatField(allow_null=True, help_text="Community Notes intercept.")


class SnapshotRefMixin(serializers.Serializer[Any]):
    snapshot_id = serializers.IntegerField(source="snapshot.pk")
    watermark = serializers.IntegerField(
        source="snapshot.watermark",
        allow_null=True,
        help_text="The last vote event included: every vote up to this one is counted.",
    )
    computed_at = serializers.DateTimeField(source="snapshot.finished_at")


class GroupsSerializer(SnapshotRefMixin):
    k = serializers.IntegerField()
    n_participants = serializers.IntegerField(source="snapshot.n_participants")
    n_in_conv = serializers.IntegerField(source="snapshot.n_in_conv")
    polarization = serializers.FloatField(source="snapshot.polarization", allow_null=True)
    groups = GroupSerializer(many=True)
    consensus = ConsensusSerializer(many=True, help_text="Statements most people agree on.")
    statements = StatementStatsSerializer(many=True)


class ComparisonSerializer(serializers.Serializer[Any]):
    statement = StatementRefSerializer()
    mine = serializers.IntegerField(help_text="My vote: 1 agree, -1 disagree, 0 pass.")
    group_majority = serializers.IntegerField(
        allow_null=True, help_text="My group's most common vote; null on a tie."
    )
    agrees_with_group = serializers.BooleanField()


class MeSerializer(SnapshotRefMixin):
    participant_id = serializers.IntegerField(source="participant.pk")
    in_snapshot = serializers.BooleanField(
        help_text="False until a snapshot includes my first votes."
    )
    in_conv = serializers.BooleanField(help_text="Whether I voted enough to be grouped.")
    group = GroupSerializer(allow_null=True)
    x = serializers.FloatField(allow_null=True)
    y = serializers.FloatField(allow_null=True)
    comparisons = ComparisonSerializer(many=True)


class SnapshotSerializer(serializers.ModelSerializer[Snapshot]):
    # No ``error``: a failed run's exception text can name hosts, users or data; moderators
    # read it in the console.
    group_sizes = serializers.DictField(child=serializers.IntegerField())
    timings_ms = serializers.DictField(child=serializers.FloatField())

    class Meta:
        model = Snapshot
        fields = [
            "id",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "watermark",
            "n_votes",
            "n_participants",
            "n_in_conv",
            "n_statements",
            "k",
            "group_sizes",
            "polarization",
            "timings_ms",
        ]
        read_only_fields = fields


class GroupsLatestView(APIView):
    @extend_schema(
        operation_id="groups_retrieve",
        tags=["groups"],
        summary="The latest opinion groups",
        description=(
            "From the latest succeeded clustering snapshot: the groups with their sizes and "
            "representative statements, the consensus statements and per-statement statistics."
        ),
        responses={200: GroupsSerializer, 403: HIDDEN, 404: NO_GROUPS},
    )
    def get(self, request: Request, slug: str) -> Response:
        conversation = request_read_require(request, conversation_get(slug=slug, user=request.user))
        snapshot = snapshot_latest_for_viewer(conversation=conversation, user=request.user)
        return Response(GroupsSerializer(groups_view(snapshot=snapshot)).data)


class MyPositionView(APIView):
    @extend_schema(
        operation_id="groups_me",
        tags=["groups"],
        summary="My group, my position on the map, and my votes against my group's",
        responses={200: MeSerializer, 403: HIDDEN, 404: NO_GROUPS},
    )
    def get(self, request: Request, slug: str) -> Response:
        conversation = request_read_require(request, conversation_get(slug=slug, user=request.user))
        participant = request_participant(request, conversation, create=False)
        if participant is None:
            raise NotFound("You have not taken part in this conversation yet.")
        snapshot = snapshot_latest_for_viewer(conversation=conversation, user=request.user)
        position = participant_position(
            view=groups_view(snapshot=snapshot), participant=participant
        )
        return Response(MeSerializer(position).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="snapshots_list",
        tags=["groups"],
        summary="The clustering history: every kept snapshot, newest first",
        responses={200: SnapshotSerializer(many=True), 403: HIDDEN, 404: NO_GROUPS},
    )
)
class SnapshotListView(generics.ListAPIView[Snapshot]):
    serializer_class = SnapshotSerializer

    def get_queryset(self) -> QuerySet[Snapshot]:
        conversation = conversation_get(slug=self.kwargs["slug"], user=self.request.user)
        request_read_require(self.request, conversation)
        groups_require_visible(conversation=conversation, user=self.request.user)
        return snapshot_history(conversation=conversation)
