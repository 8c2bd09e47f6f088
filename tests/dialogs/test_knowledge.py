"""Clinic facts come from the editable knowledge file, matched by the words of the question."""

from pathlib import Path

import pytest

from dialogs.knowledge import Knowledge, KnowledgeError


def test_hours_question_gets_hours_answer() -> None:
    topic, answer = Knowledge.load().answer("what time do you close on friday")
    assert topic == "hours"
    assert answer == "{hours}"  # said from the hours file routing uses (ActionClinicInfo)


def test_parking_question_gets_location_answer() -> None:
    assert Knowledge.load().answer("is there somewhere to park")[0] == "location"


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("hi do you take walk-ins", "walk_ins"),  # as whisper writes it, hyphen and all
        ("can I come in today without an appointment", "walk_ins"),
        ("are you guys accepting new patients", "new_patients"),
        ("is doctor Patel taking new patients right now", "new_patients"),
        ("where do I park", "location"),
        # Words of the new-patient answer that other questions hold too.
        ("are you accepting Aetna", None),
        ("how do I register for the patient portal", "contact"),
    ],
)
def test_walk_in_and_new_patient_questions_get_their_answers(
    question: str, topic: str | None
) -> None:
    assert Knowledge.load().answer(question)[0] == topic


def test_unknown_question_gets_the_menu_of_topics() -> None:
    topic, answer = Knowledge.load().answer("do you sell puppies")
    assert topic is None
    assert "hours" in answer


def test_topic_without_answer_is_rejected_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "k.yaml"
    bad.write_text("topics:\n  hours:\n    words: [open]\n")
    with pytest.raises(KnowledgeError, match="hours"):
        Knowledge.load(bad)
