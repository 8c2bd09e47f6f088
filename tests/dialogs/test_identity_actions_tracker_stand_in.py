"""Identity check in the forms: read-back, verification against the store, failures, keypad."""

from datetime import date

import pytest

from tests.dialogs.conftest import Conversation, Turn
from tests.integrations.conftest import add_patient


async def test_dob_is_read_back_before_anything_is_checked(conversation: Conversation) -> None:
    c = await conversation.open("+15550100001")
    c.user("I need a refill of my lisinopril", "request_refill")
    await c.to_readback("refill_form", "Maria Lopez", "March fourth nineteen seventy two")
    assert c.slots["dob"] == "1972-03-04"
    assert c.slots["requested_slot"] == "dob_confirmed"
    turn = await c.run("action_ask_dob_confirmed", "refill_form")
    assert turn.said.startswith("I have March")
    assert "1972" in turn.said
    assert turn.said.endswith("Is that right?")
    assert not c.slots.get("verified")


async def test_yes_to_readback_verifies_and_takes_the_named_drug(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100001")
    c.user("I need a refill of my lisinopril", "request_refill")
    await c.to_readback("refill_form", "Maria Lopez", "March fourth nineteen seventy two")
    c.answer("dob_confirmed", "yes", "affirm")
    turn = await c.run("validate_refill_form", "refill_form")
    assert c.slots["verified"] is True
    assert {"kind": "verified"} in turn.payloads  # the worker's cue to read whom, and no more
    assert c.slots["medication"] == "lisinopril 10 mg"
    assert c.slots["refill_confirmed"] is True
    assert turn.slots["requested_slot"] is None
    report = await c.report()
    assert report["verified"] is True


async def test_wrong_person_learns_nothing_about_the_patient(conversation: Conversation) -> None:
    c = await conversation.open("+15550100001")
    c.user("refill my lisinopril please", "request_refill")
    await c.to_readback("refill_form", "Maria Lopez", "March fifth nineteen seventy two")
    c.answer("dob_confirmed", "yes", "affirm")
    turn = await c.run("validate_refill_form", "refill_form")
    assert not c.slots.get("verified")
    assert c.slots["requested_slot"] == "patient_name"
    assert "lisinopril" not in turn.said.lower()
    assert "maria" not in turn.said.lower()


async def test_three_failures_transfer_to_front_desk(conversation: Conversation) -> None:
    c = await conversation.open("+15550100001")
    c.user("i need to check on my appointment", "appointment_info")
    for _ in range(3):
        await c.to_readback("identity_form", "Nobody Known", "March fifth nineteen seventy two")
        c.answer("dob_confirmed", "yes", "affirm")
        turn = await c.run("validate_identity_form", "identity_form")
    assert turn.slots["requested_slot"] is None
    end = await c.run("action_serve_request")
    assert {"kind": "transfer", "queue": "front_desk",
            "reason": "identity could not be verified"} in end.payloads
    report = await c.report()
    assert report["disposition"] == "verification_failed"
    assert report["transfer_queue"] == "front_desk"
    assert report["verified"] is False


async def test_keypad_is_offered_after_two_unparsed_dates(conversation: Conversation) -> None:
    c = await conversation.open(None)
    c.user("when is my next visit", "appointment_info")
    c.answer("patient_name", "Maria Lopez")
    await c.run("validate_identity_form", "identity_form")
    first = await c.run("action_ask_dob", "identity_form")
    assert first.payloads == [{"kind": "expect", "what": "dob"}]  # spoken, not keyed
    for garbled in ("mumble mumble", "the uh the"):
        c.answer("dob", garbled)
        await c.run("validate_identity_form", "identity_form")
    ask = await c.run("action_ask_dob", "identity_form")
    assert ask.payloads == [{"kind": "collect_digits", "max": 8, "purpose": "dob"}]
    c.answer("dob", "03041972")
    await c.run("validate_identity_form", "identity_form")
    assert c.slots["dob"] == "1972-03-04"


@pytest.mark.parametrize("said", ["March 4, 1972.", "It's the fourth of March, 72."])
async def test_a_date_given_for_the_name_is_kept_and_the_name_asked_for(
    conversation: Conversation, said: str
) -> None:
    """Asked for her name, she gave her date of birth: on a `make run` call the date was taken
    for her name."""
    c = await conversation.open("+15550100001")
    c.user("I need a refill of my lisinopril", "request_refill")
    c.answer("patient_name", said)
    turn = await c.run("validate_refill_form", "refill_form")
    assert turn.said == "Thank you, I have the date of birth.", turn.said
    assert c.slots["dob"] == "1972-03-04" and c.slots["requested_slot"] == "patient_name"
    ask = await c.run("action_ask_patient_name", "refill_form")
    assert ask.said == "What is the patient's full name?", ask.said
    c.answer("patient_name", "Maria Lopez")
    await c.run("validate_refill_form", "refill_form")
    assert c.slots["requested_slot"] == "dob_confirmed", c.slots
    readback = await c.run("action_ask_dob_confirmed", "refill_form")
    assert readback.said == "I have March fourth, 1972. Is that right?", readback.said
    c.answer("dob_confirmed", "yes", "affirm")
    await c.run("validate_refill_form", "refill_form")
    assert c.slots["verified"] is True


async def test_a_name_given_with_the_request_is_not_asked_for_again(
    conversation: Conversation,
) -> None:
    """On `make run` calls a caller who opened with "Hi, this is James Carter" was asked for
    the patient's full name all the same."""
    c = await conversation.open(None)
    c.user("Hi, this is James Carter. I need to cancel my appointment.", "cancel_appointment")
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert turn.said == "Sure." and c.slots["patient_name"] == "James Carter", turn
    assert c.slots["requested_slot"] == "dob" and not c.slots.get("verified")
    ask = await c.run("action_ask_dob", "cancel_form")
    assert ask.said == "And the date of birth?", ask.said


async def test_a_name_given_before_the_request_is_not_asked_for_again(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    c.user("Hi, this is Maria Lopez.", "inform")
    c.user("I need a refill of my lisinopril.", "request_refill")
    turn = await c.run("validate_refill_form", "refill_form")
    assert turn.said == "Sure." and c.slots["patient_name"] == "Maria Lopez", turn
    assert c.slots["requested_slot"] == "dob"


async def test_a_later_request_in_the_call_does_not_reuse_an_earlier_name(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    c.user("Hi, this is Mary Lopes. I need my appointment time.", "appointment_info")
    c.events.append({"event": "active_loop", "name": "identity_form"})
    c.events.append({"event": "active_loop", "name": None})
    c.user("I also need a refill.", "request_refill")
    turn = await c.run("validate_refill_form", "refill_form")
    assert not turn.said and c.slots["requested_slot"] == "patient_name", (turn, c.slots)


async def test_a_caregiver_who_gives_name_and_date_unasked_hears_the_date_read_back(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550109999")  # not on file
    c.user("I'm calling for my mother, Maria Lopez, her date of birth is March 4th, 1972, "
           "she needs a refill of her lisinopril.", "request_refill")  # fmt: skip
    await c.run("validate_refill_form", "refill_form")
    assert c.slots["patient_name"] == "Maria Lopez" and c.slots["dob"] == "1972-03-04", c.slots
    assert c.slots["requested_slot"] == "dob_confirmed" and not c.slots.get("verified")
    readback = await c.run("action_ask_dob_confirmed", "refill_form")
    assert readback.said == "I have March fourth, 1972. Is that right?", readback.said
    c.answer("dob_confirmed", "yes", "affirm")
    verified = await c.run("validate_refill_form", "refill_form")
    assert c.slots["verified"] is True and c.slots["medication"] == "lisinopril 10 mg", c.slots
    # She is not her mother: not thanked by her mother's first name.
    assert verified.texts[0] == "Thank you.", verified.texts


async def test_a_date_right_after_the_name_given_unasked_is_read_back(
    conversation: Conversation,
) -> None:
    """On a `make run` call "Hello, this is Maria Lopez, March 4th, 1972, calling about my test
    result." was asked for the date of birth."""
    c = await conversation.open(None)
    c.user("Hello, this is Maria Lopez, March 4th, 1972, calling about my test result.",
           "test_results")  # fmt: skip
    await c.run("validate_identity_form", "identity_form")
    assert c.slots["dob"] == "1972-03-04" and c.slots["requested_slot"] == "dob_confirmed"


@pytest.mark.parametrize(
    "said",
    [
        "hi this is james carter i need to cancel my appointment",  # no capitals: not sure
        "Hi, I'm calling about my appointment on Monday.",
        "This is Dr. Patel's office calling about a patient.",
    ],
)
async def test_a_request_without_a_full_name_in_it_asks_for_the_name(
    conversation: Conversation, said: str
) -> None:
    c = await conversation.open(None)
    c.user(said, "cancel_appointment")
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert not turn.said and c.slots["requested_slot"] == "patient_name", (turn, c.slots)


async def test_a_name_given_with_the_date_is_still_a_name(conversation: Conversation) -> None:
    c = await conversation.open("+15550100001")
    c.user("I need a refill of my lisinopril", "request_refill")
    c.answer("patient_name", "June Carter")  # a month, but a name
    await c.run("validate_refill_form", "refill_form")
    assert c.slots["patient_name"] == "June Carter" and not c.slots.get("dob"), c.slots


async def test_a_sentence_with_no_name_in_it_is_not_looked_up_as_one(
    conversation: Conversation,
) -> None:
    """On a `make run` call her request, misheard, was taken for the patient's name."""
    c = await conversation.open(None)
    c.user("I'm calling for my mother.", "appointment_info")
    c.answer("patient_name", "She needs to refill with her lives in April.")
    turn = await c.run("validate_identity_form", "identity_form")
    assert turn.said == "Sorry, I didn't catch the name.", turn.said
    assert c.slots["requested_slot"] == "patient_name" and not c.slots["patient_name"]
    c.answer("patient_name", "Sure, it's for Maria Lopez, she's my mom.")
    await c.run("validate_identity_form", "identity_form")
    assert c.slots["patient_name"] == "Maria Lopez" and c.slots["requested_slot"] == "dob"


async def test_no_to_readback_asks_the_date_again(conversation: Conversation) -> None:
    c = await conversation.open(None)
    c.user("when is my next visit", "appointment_info")
    await c.to_readback("identity_form", "Maria Lopez", "March fourth nineteen seventy two")
    c.answer("dob_confirmed", "no that's wrong", "deny")
    turn = await c.run("validate_identity_form", "identity_form")
    assert turn.slots["requested_slot"] == "dob"
    assert not c.slots.get("verified")


async def test_asking_for_a_person_mid_check_hands_off(conversation: Conversation) -> None:
    c = await conversation.open(None)
    c.user("i want to cancel", "cancel_appointment")
    c.answer("patient_name", "can I just talk to a person", "speak_to_human")
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert turn.slots["requested_slot"] is None
    end = await c.run("action_submit_cancel")
    assert end.payloads[0]["queue"] == "front_desk"


@pytest.mark.parametrize(
    ("slot", "said"),
    [("patient_name", "Eat a brandon."), ("dob", "August twenty third nineteen ninety four")],
)
async def test_an_answer_guessed_a_wish_for_a_person_without_its_words_is_an_answer(
    conversation: Conversation, slot: str, said: str
) -> None:
    """espeak-ng's "Aoife Brennan" came out "Eat a brandon.", the NLU called it asking for a
    person, and she was put through to the front desk instead of having her name checked."""
    c = await conversation.open(None)
    c.user("i want to cancel", "cancel_appointment")
    if slot == "dob":
        c.answer("patient_name", "Aoife Brennan", "inform")
        await c.run("validate_cancel_form", "cancel_form")
    c.answer(slot, said, "speak_to_human")
    await c.run("validate_cancel_form", "cancel_form")
    assert not c.slots.get("handoff")
    assert c.slots[slot], c.slots


FORMS_AND_SLOTS = pytest.mark.parametrize(
    ("slot", "form", "submit"),
    [("patient_name", "cancel_form", "action_submit_cancel"),
     ("dob", "refill_form", "action_submit_refill"),
     ("patient_name", "identity_form", "action_serve_request")],
)
# What the caller first asks for, as Rasa would classify it, by the form that serves it.
_ASKED = {
    "cancel_form": ("i want to cancel", "cancel_appointment"),
    "refill_form": ("I need a refill", "request_refill"),
    "identity_form": ("are my labs back", "test_results"),
}


async def _said_instead(c: Conversation, slot: str, form: str, said: str, intent: str) -> Turn:
    """The caller asks for what `form` serves and answers the name (or date of birth)
    question with `said`: the form's validation of it."""
    c.user(*_ASKED[form])
    if slot == "dob":
        c.answer("patient_name", "Maria Lopez")
        await c.run(f"validate_{form}", form)
    c.answer(slot, said, intent)
    return await c.run(f"validate_{form}", form)


@FORMS_AND_SLOTS
@pytest.mark.parametrize(
    ("said", "intent", "reply", "payloads"),
    [
        ("never mind, goodbye", "goodbye", "Thank you for calling. Goodbye.", [{"kind": "hangup"}]),
        # Asked again and again for a name she no longer wanted to give, a caller was kept in
        # the form; the intent is whatever Rasa makes of it ("deny" here).
        ("Never mind, I'll call back later.", "deny", "Okay. Is there anything else?", []),
        ("No thanks.", "deny", "Okay. Is there anything else?", []),
    ],
)
async def test_a_goodbye_or_giving_up_instead_of_an_answer_ends_the_request(
    conversation: Conversation, slot: str, form: str, submit: str,
    said: str, intent: str, reply: str, payloads: list[dict[str, str]],
) -> None:  # fmt: skip
    c = await conversation.open(None)
    turn = await _said_instead(c, slot, form, said, intent)
    assert turn.slots["requested_slot"] is None and "didn't catch" not in turn.said, turn.said
    end = await c.run(submit)
    assert (end.said, end.payloads) == (reply, payloads)
    assert not c.slots.get("verified") and c.slots.get("handoff") is None
    # What she called about stays on the record; nothing was done.
    report = await c.report()
    assert report["intents"] == [_ASKED[form][1]], report
    assert report["disposition"] is None, report


@FORMS_AND_SLOTS
async def test_a_bare_no_instead_of_an_answer_is_asked_again(
    conversation: Conversation, slot: str, form: str, submit: str
) -> None:
    c = await conversation.open(None)
    turn = await _said_instead(c, slot, form, "No.", "deny")
    assert turn.slots["requested_slot"] == slot and turn.slots.get("handoff") is None, turn
    assert turn.said.startswith("Sorry, I didn't"), turn.said


async def test_loose_match_reads_the_name_back_before_verifying(
    conversation: Conversation,
) -> None:
    # A misheard first name passes only because the caller ID matches: read the name back.
    c = await conversation.open("+15550100001")
    c.user("when is my appointment", "appointment_info")
    await c.to_readback("identity_form", "Maya Lopez", "March fourth nineteen seventy two")
    c.answer("dob_confirmed", "yes", "affirm")
    turn = await c.run("validate_identity_form", "identity_form")
    assert turn.slots["requested_slot"] == "name_confirmed"
    assert not c.slots.get("verified")
    ask = await c.run("action_ask_name_confirmed", "identity_form")
    assert ask.said == "I have you as Maria Lopez. Is that right?"
    c.answer("name_confirmed", "yes", "affirm")
    await c.run("validate_identity_form", "identity_form")
    assert c.slots["verified"] is True


async def test_no_to_the_name_read_back_counts_as_a_failed_check(
    conversation: Conversation,
) -> None:
    c = await conversation.open("+15550100001")
    c.user("when is my appointment", "appointment_info")
    await c.to_readback("identity_form", "Maya Lopez", "March fourth nineteen seventy two")
    c.answer("dob_confirmed", "yes", "affirm")
    await c.run("validate_identity_form", "identity_form")
    c.answer("name_confirmed", "no", "deny")
    turn = await c.run("validate_identity_form", "identity_form")
    assert turn.slots["requested_slot"] == "patient_name"
    assert c.slots["id_failures"] == 1
    assert not c.slots.get("verified")


@pytest.mark.parametrize(
    ("hinted_for", "verified"), [("1983-05-17", True), ("1983-05-18", False), (None, False)]
)
async def test_the_name_heard_again_counts_only_for_the_date_being_checked(
    conversation: Conversation, hinted_for: str | None, verified: bool
) -> None:
    # From a number not on file, her name was first heard as words; the voice worker heard it
    # again with the names of the patients born on `hinted_for` as hints.
    c = await conversation.open("+15550199876")
    await add_patient(c.db, "Xiaoming", "Okonkwo", date(1983, 5, 17), "+15550100777")
    c.user("I want to cancel my appointment", "cancel_appointment")
    await c.to_readback("cancel_form", "the I'm in the Conco", "May seventeenth 1983")
    again = {"text": "My name is Xiaoming Okonkwo.", "dob": hinted_for} if hinted_for else None
    c.answer("dob_confirmed", "yes", "affirm", name_heard_again=again)
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert bool(c.slots.get("verified")) is verified
    assert "I have you as" not in turn.said  # no name read back to an unverified caller
    assert (await c.report())["verified"] is verified


@pytest.mark.parametrize("heard", ["Goodbye.", "Hello?", "Thank you.", "Sorry, what?", "Yes."])
async def test_small_talk_for_a_name_is_asked_again_not_looked_up(
    conversation: Conversation, heard: str
) -> None:
    c = await conversation.open("+15550100001")
    c.user("I need a refill of my lisinopril", "request_refill")
    c.answer("patient_name", heard)
    turn = await c.run("validate_refill_form", "refill_form")
    assert "didn't catch the name" in turn.said, turn.said
    assert c.slots.get("patient_name") is None and c.slots["requested_slot"] == "patient_name"
    # A name among the same words is a name.
    c.answer("patient_name", "Hello, it's Maria Lopez")
    await c.run("validate_refill_form", "refill_form")
    assert c.slots["patient_name"] == "Maria Lopez"


async def _failed_once(
    c: Conversation, name: str, said_dob: str, form: str = "cancel_form"
) -> None:
    """A name that matches nobody born on the date she confirms: the first failed match."""
    await c.to_readback(form, name, said_dob)
    c.answer("dob_confirmed", "yes", "affirm")
    turn = await c.run(f"validate_{form}", form)
    assert "couldn't find that name" in turn.said, turn.said
    assert not c.slots.get("verified")


async def _nobody_matched(c: Conversation) -> None:
    """A caller asks to cancel; the name she gives matches nobody born on March 4, 1972."""
    c.user("I want to cancel my appointment", "cancel_appointment")
    await _failed_once(c, "Nobody Known", "March fourth nineteen seventy two")


@pytest.mark.parametrize(
    "spelled",
    ["V-E-N-K-A-T-A-R-A-M-A-N.", "vee ee en kay ay tee ay are ay em ay en",
     "V E N K A T A R A N A N"],  # two letters misheard in a long name: still hers
)  # fmt: skip
async def test_after_a_failed_match_the_spelled_surname_verifies_with_the_same_date(
    conversation: Conversation, spelled: str
) -> None:
    c = await conversation.open("+15550199876")  # a number not on file
    await add_patient(c.db, "Aoife", "Venkataraman", date(1990, 7, 19), "+15550100778")
    c.user("I want to cancel my appointment", "cancel_appointment")
    await _failed_once(c, "always Ben Katerman", "July nineteenth 1990")
    assert c.slots["requested_slot"] == "patient_name" and c.slots["dob"] == "1990-07-19"
    ask = await c.run("action_ask_patient_name", "cancel_form")
    assert ask.said == "Please spell the patient's last name for me, one letter at a time."
    assert ask.payloads == [{"kind": "expect", "what": "spelled_name"}]
    c.answer("patient_name", spelled)
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert c.slots["verified"] is True, turn.said
    assert "Thank you, Aoife" in turn.said
    assert (await c.report())["verified"] is True


@pytest.mark.parametrize(
    ("spelled", "heard_again"),
    [("L-O-P-E-S.", None),  # a short surname: one letter off is someone else
     ("I don't know how to spell it", None),
     ("L O P", {"letters": "LOPEZ", "dob": "1972-03-05"})],  # heard again for another date
)  # fmt: skip
async def test_a_spelling_that_is_not_her_surname_is_one_more_failure_and_asks_again(
    conversation: Conversation, spelled: str, heard_again: dict[str, str] | None
) -> None:
    c = await conversation.open(None)
    await _nobody_matched(c)
    c.answer("patient_name", spelled, spelling_heard_again=heard_again)
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert not c.slots.get("verified")
    assert "try once more" in turn.said, turn.said
    assert c.slots["id_failures"] == 2
    # From the start: her name and date of birth again, not letters.
    assert c.slots["requested_slot"] == "patient_name" and c.slots.get("dob") is None
    ask = await c.run("action_ask_patient_name", "cancel_form")
    assert ask.payloads == [{"kind": "expect", "what": "full_name"}]


@pytest.mark.parametrize("guessed", ["speak_to_human", "billing"])
async def test_letters_are_a_spelling_whatever_intent_the_nlu_guesses_for_them(
    conversation: Conversation, guessed: str
) -> None:
    """Out of its training, the NLU calls a string of letters anything; on a real call it took
    a spelled surname for asking for a person and transferred her instead of verifying."""
    c = await conversation.open(None)
    await add_patient(c.db, "Ines", "Featherstonehaugh", date(1951, 2, 11))
    c.user("I want to cancel my appointment", "cancel_appointment")
    await _failed_once(c, "Ines Brennan", "February eleventh nineteen fifty one")
    await c.run("action_ask_patient_name", "cancel_form")  # "please spell the last name"
    c.answer("patient_name", "F-E-A-T-H-E-R-F-T-O-N-E-H-A-U-H.", guessed)
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert c.slots.get("verified") is True and not c.slots.get("handoff"), turn.said


async def test_asking_for_a_person_instead_of_spelling_is_put_through(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    await _nobody_matched(c)
    await c.run("action_ask_patient_name", "cancel_form")
    c.answer("patient_name", "can I just talk to someone", "speak_to_human")
    await c.run("validate_cancel_form", "cancel_form")
    assert c.slots["handoff"] == "front_desk" and not c.slots.get("verified")


@pytest.mark.parametrize("said", ["No thanks.", "Never mind, I'll call back later."])
async def test_no_thanks_to_spelling_her_name_lets_her_go_on(
    conversation: Conversation, said: str
) -> None:
    """On a `make run` call "no thanks" to spelling was one more failed check, and she was
    asked for her name all over again."""
    c = await conversation.open(None)
    await _nobody_matched(c)
    await c.run("action_ask_patient_name", "cancel_form")
    c.answer("patient_name", said, "deny")
    await c.run("validate_cancel_form", "cancel_form")
    assert c.slots["handoff"] == "declined" and not c.slots.get("verified"), c.slots
    assert c.slots["requested_slot"] is None, c.slots
    end = await c.run("action_submit_cancel")
    assert end.said == "Okay. Is there anything else?", end.said
    assert (await c.report())["intents"] == ["cancel_appointment"]


@pytest.mark.parametrize("said", ["Okay.", "Yes, please cancel it."])
async def test_no_letters_at_all_is_asked_again_once_before_it_counts(
    conversation: Conversation, said: str
) -> None:
    """In a full test run a caller's "Yes, please cancel it." after "please spell the last
    name" was a failed check: asked for her name and date of birth all over again."""
    c = await conversation.open(None)
    await add_patient(c.db, "Aoife", "Venkataraman", date(1972, 3, 4))
    await _nobody_matched(c)
    await c.run("action_ask_patient_name", "cancel_form")
    c.answer("patient_name", said, "affirm")
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert turn.said == "Sorry, I didn't catch any letters.", turn.said
    assert c.slots["id_failures"] == 1 and c.slots["dob"] == "1972-03-04"
    ask = await c.run("action_ask_patient_name", "cancel_form")
    assert ask.payloads == [{"kind": "expect", "what": "spelled_name"}]
    c.answer("patient_name", "V-E-N-K-A-T-A-R-A-M-A-N.")
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert c.slots["verified"] is True, turn.said


async def test_asked_twice_to_spell_and_still_no_letter_counts_as_a_failed_match(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    await _nobody_matched(c)
    for _ in range(2):
        await c.run("action_ask_patient_name", "cancel_form")
        c.answer("patient_name", "Okay.", "affirm")
        turn = await c.run("validate_cancel_form", "cancel_form")
    assert "try once more" in turn.said and c.slots["id_failures"] == 2, turn.said


async def test_the_spelling_heard_again_for_her_date_verifies_her(
    conversation: Conversation,
) -> None:
    # Free, the recogniser wrote words; held to the surnames born that day, it heard "LOPEZ".
    c = await conversation.open(None)
    await _nobody_matched(c)
    c.answer("patient_name", "Hello, PDC.",
             spelling_heard_again={"letters": "LOPEZ", "dob": "1972-03-04"})
    await c.run("validate_cancel_form", "cancel_form")
    assert c.slots["verified"] is True


async def test_twins_born_the_same_day_are_not_told_apart_by_a_surname(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    for first in ("Ada", "Ida"):
        await add_patient(c.db, first, "Quistgaard", date(2001, 9, 14))
    c.user("I want to cancel my appointment", "cancel_appointment")
    await _failed_once(c, "Kissed Guard", "September fourteenth 2001")
    c.answer("patient_name", "Q-U-I-S-T-G-A-A-R-D")
    await c.run("validate_cancel_form", "cancel_form")
    assert not c.slots.get("verified")
    assert c.slots["id_failures"] == 2


async def test_her_name_said_again_instead_of_spelled_is_checked_with_the_date_she_gave(
    conversation: Conversation,
) -> None:
    c = await conversation.open(None)
    await _nobody_matched(c)
    c.answer("patient_name", "it's Maria Lopez")
    turn = await c.run("validate_cancel_form", "cancel_form")
    assert c.slots["verified"] is True, turn.said
    assert c.slots["dob"] == "1972-03-04"
