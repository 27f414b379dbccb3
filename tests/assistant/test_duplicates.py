import pytest
from pytest_django.fixtures import Settings

from deliberation.assistant.duplicates import (
    ENDPOINT_EMBEDDING_LIMITATION,
    OFFLINE_STANCE_LIMITATION,
    duplicate_check,
    local_stance,
    pair_verdicts,
)
from deliberation.assistant.provider import NO_TIME_LEFT, get_provider
from deliberation.models import (
    AICall,
    Conversation,
    DuplicateFlag,
    DuplicateTier,
    Stance,
    StatementEmbedding,
    StatementStatus,
)
from deliberation.services.assistant import assistant_statement_submit
from tests.factories import ConversationFactory, ParticipantFactory, StatementFactory
from tests.fake_openai import Failure, FakeOpenAI, Stall

pytestmark = pytest.mark.django_db


def conversation_with(*texts: str) -> Conversation:
    conversation = ConversationFactory.create()
    for text in texts:
        StatementFactory.create(conversation=conversation, text=text)
    return conversation


@pytest.mark.parametrize(
    ("a", "b", "stance"),
    [
        ("Ban cars from the city centre", "Do not ban cars from the city centre", "opposite"),
        ("The wage should be $20", "The wage should be $25", "different"),
        ("We should never allow it", "We should not allow it", "same"),
        # "stop" negates what follows it as "not" does: both say cats must not roam.
        ("Cats must stop roaming", "Cats must not roam", "same"),
        ("我覺得Uber很好", "我不覺得Uber很好", "opposite"),
    ],
)
def test_local_stance_rule(a: str, b: str, stance: str) -> None:
    assert local_stance(a, b) == stance


@pytest.mark.usefixtures("offline")
def test_offline_check_finds_a_reworded_statement_and_says_it_is_limited() -> None:
    conversation = conversation_with(
        "The city should build more protected bike lanes downtown.",
        "Parking fees should go up.",
    )

    check = duplicate_check(
        provider=get_provider(),
        conversation=conversation,
        text="The city should build more protected bike lanes in downtown",
    )

    assert check.method == "local"
    assert check.judged_by == "local+rules"
    assert check.tier == DuplicateTier.DUPLICATE
    assert check.matches[0].statement.text.startswith("The city should build")
    assert check.limitations == [OFFLINE_STANCE_LIMITATION]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Cannabis should be legal", "Cannabis should be illegal"),
        ("The tax on petrol should increase", "The tax on petrol should decrease"),
        ("We need more police on the streets", "We need fewer police on the streets"),
        ("The city should allow Uber to operate", "The city should ban Uber from operating"),
        ("Trams are cheaper than buses", "Buses are cheaper than trams"),
        ("Seattle should act before the state does", "The state should act before Seattle does"),
        # One negation each, about different things: not the same claim.
        (
            "A $15 minimum wage will not hurt small businesses",
            "A $15 minimum wage will hurt small businesses the most, and I don't think "
            "they can cope",
        ),
    ],
)
def test_local_rules_see_antonyms_swaps_and_misplaced_negations_as_opposite(a: str, b: str) -> None:
    assert local_stance(a, b) == Stance.OPPOSITE


@pytest.mark.usefixtures("offline")
def test_offline_an_antonym_or_swapped_pair_is_never_a_duplicate() -> None:
    verdicts, method, _ = pair_verdicts(
        provider=get_provider(),
        pairs=[
            ("Cannabis should be legal", "Cannabis should be illegal"),
            ("Trams are cheaper than buses", "Buses are cheaper than trams"),
            (
                "Raising the minimum wage will not hurt small businesses",
                "Raising the minimum wage will hurt small businesses the most, and I don't "
                "think they can cope",
            ),
        ],
    )

    assert method == "local"
    assert [verdict.tier for verdict in verdicts] == [DuplicateTier.RELATED] * 3
    assert [verdict.stance for verdict in verdicts] == [Stance.OPPOSITE] * 3


@pytest.mark.usefixtures("offline")
def test_offline_a_rewording_with_few_shared_words_is_offered_as_a_duplicate() -> None:
    verdicts, _, _ = pair_verdicts(
        provider=get_provider(),
        pairs=[
            ("Buses should be free for students", "Pupils shouldn't have to pay bus fares"),
            ("Teachers deserve higher pay", "Educators should be paid more"),
        ],
    )

    assert [verdict.tier for verdict in verdicts] == [
        DuplicateTier.PROBABLE,
        DuplicateTier.DUPLICATE,
    ]
    assert all(verdict.stance == Stance.SAME for verdict in verdicts)


@pytest.mark.usefixtures("offline")
def test_a_submitted_statement_keeps_the_vector_its_check_computed() -> None:
    conversation = conversation_with("Protect the wetlands from development.")
    participant = ParticipantFactory.create(conversation=conversation)

    statement = assistant_statement_submit(
        conversation=conversation,
        participant=participant,
        text="Wetlands need protection from developers",
        confirmed=True,
    )

    stored = StatementEmbedding.objects.get(statement=statement)
    assert stored.model == "all-MiniLM-L6-v2-onnx-int8"
    assert len(bytes(stored.vector)) == 384 * 4


@pytest.mark.usefixtures("offline")
def test_offline_check_never_calls_a_negation_a_duplicate() -> None:
    conversation = conversation_with("We should ban cars from the city centre.")

    check = duplicate_check(
        provider=get_provider(),
        conversation=conversation,
        text="We should not ban cars from the city centre.",
    )

    assert check.matches[0].verdict.tier == DuplicateTier.RELATED
    assert check.matches[0].verdict.stance == Stance.OPPOSITE


@pytest.mark.usefixtures("offline")
def test_participants_are_not_compared_with_pending_statements() -> None:
    conversation = ConversationFactory.create()
    StatementFactory.create(
        conversation=conversation, text="Plant more trees", status=StatementStatus.PENDING
    )

    for_participant = duplicate_check(
        provider=get_provider(), conversation=conversation, text="Plant more trees!"
    )
    for_moderators = duplicate_check(
        provider=get_provider(),
        conversation=conversation,
        text="Plant more trees!",
        include_pending=True,
    )

    assert for_participant.matches == []
    assert for_moderators.tier == DuplicateTier.DUPLICATE


def test_embeddings_are_cached_per_statement(fake_openai: FakeOpenAI) -> None:
    conversation = conversation_with("First statement", "Second statement")
    fake_openai.queue_embeddings([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.05]], [[0.0, 1.0]])
    fake_openai.chat_default = lambda body: {"pairs": [{"pair": 0, "relation": "same"}]}
    provider = get_provider()

    first = duplicate_check(provider=provider, conversation=conversation, text="First one")
    second = duplicate_check(provider=provider, conversation=conversation, text="Second one")

    embedded = [body["input"] for path, body in fake_openai.requests if "embeddings" in path]
    assert embedded == [["First statement", "Second statement"], ["First one"], ["Second one"]]
    assert StatementEmbedding.objects.count() == 2
    assert (first.method, first.tier, first.matches[0].statement.text) == (
        "endpoint",
        DuplicateTier.DUPLICATE,
        "First statement",
    )
    assert first.limitations == []
    assert second.matches[0].statement.text == "Second statement"


def test_an_edited_statement_is_embedded_again(fake_openai: FakeOpenAI) -> None:
    conversation = ConversationFactory.create()
    statement = StatementFactory.create(conversation=conversation, text="Old wording")
    fake_openai.queue_embeddings([[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 1.0]])
    fake_openai.chat_default = lambda body: {"pairs": [{"pair": 0, "relation": "same"}]}
    provider = get_provider()

    duplicate_check(provider=provider, conversation=conversation, text="anything")
    statement.text = "New wording"
    statement.save()
    check = duplicate_check(provider=provider, conversation=conversation, text="anything")

    assert check.tier == DuplicateTier.DUPLICATE
    stored = StatementEmbedding.objects.get()
    assert bytes(stored.vector) == b"\x00\x00\x00\x00\x00\x00\x80?"


def test_the_llm_stance_check_keeps_opposites_apart(fake_openai: FakeOpenAI) -> None:
    conversation = conversation_with("Ban X", "Fund Y")
    fake_openai.queue_embeddings([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0]])
    fake_openai.queue_chat({"pairs": [{"pair": 0, "relation": "opposite"}]})

    check = duplicate_check(provider=get_provider(), conversation=conversation, text="Do not ban X")

    assert check.tier == DuplicateTier.RELATED
    assert check.matches[0].verdict.stance == Stance.OPPOSITE
    stance_call = AICall.objects.get(purpose="stance")
    assert stance_call.input_statement_ids == [check.matches[0].statement.pk]
    prompt = fake_openai.chat_requests()[0]["messages"][1]["content"]
    assert "<data>" in prompt and '"Ban X"' in prompt


def test_a_failing_stance_check_falls_back_to_the_local_rule(fake_openai: FakeOpenAI) -> None:
    conversation = conversation_with("Ban X")
    fake_openai.queue_embeddings([[1.0, 0.0]], [[1.0, 0.0]])
    fake_openai.queue_chat(Failure(500), Failure(500), Failure(500))

    check = duplicate_check(provider=get_provider(), conversation=conversation, text="Ban X now")

    assert check.tier == DuplicateTier.DUPLICATE
    assert check.matches[0].verdict.stance == Stance.SAME
    assert check.limitations == [OFFLINE_STANCE_LIMITATION]


def test_failing_embeddings_fall_back_to_local_similarity(fake_openai: FakeOpenAI) -> None:
    conversation = conversation_with("Protect the wetlands from development.")
    fake_openai.queue_embeddings(Failure(500), Failure(500), Failure(500))
    fake_openai.queue_chat({"pairs": [{"pair": 0, "relation": "same"}]})

    check = duplicate_check(
        provider=get_provider(),
        conversation=conversation,
        text="Protect the wetlands from development!",
    )

    assert check.method == "local"
    assert check.tier == DuplicateTier.DUPLICATE
    assert check.limitations == [ENDPOINT_EMBEDDING_LIMITATION]


def test_a_stalled_model_costs_a_submit_one_short_try_then_local_similarity(
    fake_openai: FakeOpenAI, settings: Settings
) -> None:
    settings.AGORA_LLM = {**settings.AGORA_LLM, "TIMEOUT_S": 5.0, "INTERACTIVE_TIMEOUT_S": 0.3}
    conversation = conversation_with("Protect the wetlands from development.")
    participant = ParticipantFactory.create(conversation=conversation)
    fake_openai.queue_embeddings(Stall(1.0))

    statement = assistant_statement_submit(
        conversation=conversation,
        participant=participant,
        text="Protect the wetlands from any development!",
        confirmed=True,
    )

    flag = DuplicateFlag.objects.get(statement=statement)
    assert (flag.method, flag.tier) == ("local+rules", DuplicateTier.DUPLICATE)
    assert flag.judged_by_label == "Local model and rules"
    # One embedding request, not retried; the stance check found no time left and asked
    # nothing, falling back to the local rule.
    assert [path for path, _ in fake_openai.requests] == ["/v1/embeddings"]
    calls = list(AICall.objects.order_by("id").values_list("purpose", "outcome", "detail"))
    assert [(purpose, outcome) for purpose, outcome, _ in calls] == [
        ("embedding", "timeout"),
        ("stance", "timeout"),
    ]
    assert calls[1][2] == NO_TIME_LEFT


@pytest.mark.usefixtures("offline")
def test_pairs_are_tiered_with_one_shared_vocabulary() -> None:
    verdicts, method, _ = pair_verdicts(
        provider=get_provider(),
        pairs=[
            ("Raise the minimum wage to $15", "Raise the minimum wage to $15 now"),
            ("Raise the minimum wage to $15", "Protect native birds from cats"),
        ],
    )

    assert method == "local"
    assert [verdict.tier for verdict in verdicts] == [DuplicateTier.DUPLICATE, DuplicateTier.NONE]
