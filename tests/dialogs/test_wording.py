"""The dialogs' replies are data (`dialogs/wording.yaml`): every one is spoken by an action,
every one an action asks for is there, and a version a supervisor publishes in the Flows area
is what the actions say next, on a real store, through rasa-sdk's executor."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicline.callflow.prompts import clinic_prompts
from clinicline.flows import versions
from clinicline.flows.live import PublishedDialogWording
from dialogs.actions import build_action_executor
from dialogs.replies import fixed_replies
from dialogs.wording import PREFIX, DialogWording, WordingError, load_replies
from integrations.store import Database
from tests.dialogs.conftest import NOW, Conversation, verified

ACTIONS = Path(__file__).resolve().parents[2] / "dialogs" / "actions"


def _actions_source() -> str:
    return "\n".join(p.read_text() for p in sorted(ACTIONS.glob("*.py")))


def _uttered_by_rasa() -> dict[str, Any]:
    """The domain's own responses, which Rasa utters itself: their words are the reply of the
    same name (its NLG endpoint), and the domain keeps the same text for training."""
    domain = yaml.safe_load((ACTIONS.parent / "domain.yml").read_text())["responses"]
    return {name.removeprefix("utter_"): variants for name, variants in domain.items()}


def test_every_reply_is_spoken_by_an_action_and_every_reply_asked_for_exists() -> None:
    replies = load_replies()
    source = _actions_source()
    uttered_by_rasa = _uttered_by_rasa()
    for name, variants in uttered_by_rasa.items():
        assert name in replies and variants == [{"text": replies[name].text}], name
    unspoken = [n for n in replies if f'"{n}"' not in source and n not in uttered_by_rasa]
    assert unspoken == [], "replies no action names"
    asked = set(re.findall(r'say\(\s*"(\w+)"', source)) | set(re.findall(r'say="(\w+)"', source))
    assert asked and asked <= set(replies), asked - set(replies)
    # No reply is written into the code any more: every text an action utters comes from data.
    assert not re.search(r'utter_message\(\s*text\s*=\s*f?"', source)


def test_a_published_reply_is_used_and_one_whose_braces_differ_keeps_the_default() -> None:
    wording = DialogWording.from_file()
    assert wording.say("confirm_refill", medication="lisinopril") == (
        "lisinopril. Shall I send a refill request?"
    )
    refused = wording.use({
        PREFIX + "confirm_refill": "Shall I ask for more {medication}?",
        PREFIX + "booked": "Booked!",  # lost {appointment}
        PREFIX + "moved": "Moved to {appointment} with {doctor}.",  # a word nobody fills
        PREFIX + "cancelled": "All cancelled {",  # braces that do not pair up
    })  # fmt: skip
    assert sorted(refused) == ["booked", "cancelled", "moved"]
    assert wording.say("confirm_refill", medication="lisinopril") == (
        "Shall I ask for more lisinopril?"
    )
    assert wording.say("booked", appointment="Tuesday") == "You're booked. That's Tuesday."
    assert wording.say("cancelled") == "Your appointment is cancelled."
    with pytest.raises(WordingError, match="no reply named"):
        wording.say("no_such_reply")


def test_a_wording_file_with_broken_braces_or_without_samples_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "wording.yaml"
    broken.write_text('replies:\n  x:\n    text: "Hello {name"\n', encoding="utf-8")
    with pytest.raises(WordingError, match="braces"):
        DialogWording.from_file(broken)
    unsampled = tmp_path / "unsampled.yaml"
    unsampled.write_text('replies:\n  x:\n    text: "Hello {name}"\n', encoding="utf-8")
    with pytest.raises(WordingError, match="sample"):
        DialogWording.from_file(unsampled)


def test_the_fixed_replies_rendered_ahead_come_from_the_data() -> None:
    fixed = fixed_replies()
    wording = DialogWording.from_file()
    # Lines the old scraping of the actions' source missed (held in variables and dicts) ...
    assert wording.say("ask_name") in fixed
    assert wording.say("not_verified_front_desk") in fixed
    # ... and no reply that needs words filled in.
    assert wording.say("confirm_refill", medication="x") not in fixed
    assert not [text for text in fixed if "{" in text]


async def test_an_edit_that_drops_a_word_in_braces_is_refused(clinic: Database) -> None:
    wording = DialogWording.from_file()
    defaults = clinic_prompts("Riverside Clinic") | wording.defaults()
    async with clinic.session() as s:
        with pytest.raises(versions.FlowError, match=r"\{medication\}"):
            await versions.save_prompt(s, defaults, name=PREFIX + "confirm_refill",
                                       text="Shall I send a refill request?", base=None,
                                       actor="super1")
        with pytest.raises(versions.FlowError, match="no words in braces"):
            await versions.save_prompt(s, defaults, name="hold", text="Hold on, {name}.",
                                       base=None, actor="super1")
        assert await versions.newest_version(s) is None  # nothing saved


async def test_a_published_reply_is_what_the_dialog_says_next_tracker_stand_in(
    clinic: Database, domain: dict[str, Any]
) -> None:
    wording = DialogWording.from_file()
    defaults = clinic_prompts("Riverside Clinic") | wording.defaults()
    executor = build_action_executor(clinic, clock=lambda: NOW, wording=wording)
    c = await Conversation(executor, domain, clinic).open("+15550100001")
    learnt: list[list[str]] = []
    live = PublishedDialogWording(clinic, wording, on_change=learnt.append)
    c.user("I need a refill of my lisinopril", "request_refill")
    await verified(c, "refill_form", "Maria Lopez", "March fourth nineteen seventy two")
    asked = await c.run("action_ask_refill_confirmed")
    assert asked.said == "lisinopril 10 mg. Shall I send a refill request?"

    async with clinic.session() as s:
        first = await versions.save_prompt(
            s, defaults, name=PREFIX + "confirm_refill",
            text="You'd like {medication}, is that right?", base=None, actor="super1",
        )  # fmt: skip
        second = await versions.save_prompt(
            s, defaults, name=PREFIX + "goodbye", text="Thanks for calling. Take care.",
            base=first.id, actor="super1",
        )  # fmt: skip
    assert not await live.check()  # drafts: callers still hear the file's words
    assert (await c.run("action_ask_refill_confirmed")).said == asked.said
    async with clinic.session() as s:
        await versions.publish(s, defaults, second.id, "super1", may_publish=True)
    assert await live.check() and live.in_use == second.id
    # The worker's phrase cache was given the new fixed reply before the switch.
    assert "Thanks for calling. Take care." in learnt[-1]
    assert not [t for t in learnt[-1] if "{" in t]

    assert (await c.run("action_ask_refill_confirmed")).said == (
        "You'd like lisinopril 10 mg, is that right?"
    )
    assert (await c.run("action_goodbye")).texts == ["Thanks for calling. Take care."]


# Replies an action picks by a variable, and the words in braces it gives them.
_PICKED = {
    frozenset({"refill_to_nurse", "refill_already_in", "refill_sent"}):
        {"medication", "turnaround"},
    frozenset({"book_system_down", "move_system_down", "connecting", "connecting_nurse",
               "connecting_billing", "connecting_pharmacy", "not_verified_front_desk",
               "nothing_booked", "kept_appointment", "okay", "connecting_office",
               "not_served_front_desk"}): set(),
}  # fmt: skip


def test_every_reply_is_given_exactly_the_words_in_its_braces() -> None:
    """An action that gives a reply fewer words than its braces would fail on a call; one
    that gives more means a word the caller never hears. Checked on every `say` call."""
    import ast

    replies = load_replies()
    checked: set[str] = set()
    for path in sorted(ACTIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "say" and node.args):
                continue
            given = {k.arg for k in node.keywords if k.arg is not None}
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names = {first.value}
            elif isinstance(first, ast.IfExp):  # say("a" if ... else "b")
                names = {b.value for b in (first.body, first.orelse)
                         if isinstance(b, ast.Constant) and isinstance(b.value, str)}
            else:
                names = next(set(group) for group, words in _PICKED.items() if words == given)
            for name in names:
                assert replies[name].fields == given, (path.name, name, given)
                checked.add(name)
    for name in _uttered_by_rasa():  # Rasa's NLG call fills in nothing
        assert not replies[name].fields, name
        checked.add(name)
    assert checked == set(replies), set(replies) - checked
