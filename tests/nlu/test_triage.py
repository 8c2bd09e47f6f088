"""Specifications of red-flag triage: categories, negation, history, benign words, speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.triage import Level, TriageEngine
from nlu.triage.evaluate import evaluate, read_cases

EXAMPLES = Path(__file__).parents[2] / "nlu" / "triage" / "examples"
CASES = EXAMPLES / "own_cases.tsv"
GENERALISATION = EXAMPLES / "generalisation.tsv"
# Lines of the generalisation set the lexicon does not catch yet; each needs a rule, not a string.
KNOWN_MISSES: set[str] = set()


@pytest.fixture(scope="module")
def engine() -> TriageEngine:
    return TriageEngine.default()


@pytest.mark.parametrize(
    ("category", "text"),
    [
        ("cardiac", "my grandfather says it feels like a band squeezing his chest"),
        ("stroke", "half of her face is sagging and she sounds drunk but she is not"),
        ("breathing", "my little girl can't get her breath"),
        ("anaphylaxis", "after the shellfish his tongue got huge"),
        ("severe_bleeding", "the gash on his scalp has been gushing blood for ten minutes"),
        ("unresponsive", "my uncle just keeled over at dinner"),
        ("seizure", "my nephew is having convulsions"),
        ("suicide_self_harm", "my friend texted me that she wants to end her life"),
        ("overdose_poisoning", "the kids drank some antifreeze from the garage"),
        ("head_injury", "she smacked her head on the ice and now she is vomiting"),
        ("pregnancy_emergency", "i am 20 weeks pregnant and bleeding through a pad"),
        ("infant_emergency", "my 3 week old is burning up"),
        ("burns", "he spilled scalding coffee all over his lap and it is blistering"),
        ("major_trauma", "my son was hit by a car on his bike"),
        # described, not named: a hand that lets go, words that will not come together
        ("stroke", "the spoon slipped out of her hand and her words are coming out wrong"),
        ("stroke", "he cannot string a sentence together all of a sudden"),
        ("breathing", "my grandson can only say one word at a time between breaths"),
        ("unresponsive", "my aunt is slumped on the sofa and she will not answer"),
        ("unresponsive", "she keeps drifting off and now she is gone completely unresponsive"),
        ("seizure", "my nephew has had three fits this morning"),
        # passive ideation as people put it
        ("suicide_self_harm", "he'd rather be dead, he told me so tonight"),
        ("suicide_self_harm", "she keeps saying she wants to go to sleep and never wake up"),
        ("overdose_poisoning", "our toddler ate some berries off a bush and is now very drowsy"),
        ("major_trauma", "there has been a moped crash and my cousin is hurt"),
        ("pregnancy_emergency", "my partner is in labour and the baby is coming now"),
        ("burns", "he got drain cleaner on his face"),
        # means, plans and safety in everyday words
        ("suicide_self_harm", "I keep thinking about stepping in front of a train"),
        ("suicide_self_harm", "I do not think I can keep myself safe tonight"),
        ("suicide_self_harm", "my daughter has been self harming and says she has had enough"),
        ("suicide_self_harm", "he has locked himself in the bathroom with a razor"),
        ("suicide_self_harm", "I have been planning how I would do it"),
        ("suicide_self_harm", "everyone would be happier if I was gone"),
        # extent measured the way people measure it
        ("severe_bleeding", "she is passing big clots and soaking a pad every half hour"),
        ("anaphylaxis", "he has a nut allergy, he ate a biscuit and he is going blotchy"),
        ("head_injury", "after the fall he has clear fluid coming from his nose"),
        ("infant_emergency", "my baby's cry has gone weak and high pitched"),
        # signs that together make an emergency of an urgent complaint
        ("meningitis_signs", "my son is feverish, his neck is stiff and the light hurts his eyes"),
        ("diabetic_emergency",
         "my type 1 son is vomiting and his breath smells like nail varnish remover"),
        ("hypertensive_emergency",
         "his blood pressure is 220 over 130 and he has a splitting headache"),
        ("abdominal_emergency", "she is being sick green bile and her tummy is swollen"),
    ],
)
def test_emergent_category_fires_on_unseen_phrasing(
    engine: TriageEngine, category: str, text: str
) -> None:
    result = engine.assess(text)
    assert result.level is Level.EMERGENT
    assert category in result.categories


@pytest.mark.parametrize(
    ("category", "text"),
    [
        ("meningitis_signs", "fever since last night and she says her neck is too stiff to move"),
        ("high_fever", "he is at 104.2 even after motrin"),
        ("dehydration_vomiting", "I can't keep any fluids down since this morning"),
        ("blood_sugar", "my glucose is reading over 400"),
        ("spreading_infection", "the spider bite is getting bigger and the redness is spreading"),
        ("injury_cannot_bear_weight", "she can't stand on her left foot after the fall"),
        ("abdominal_pain", "excruciating cramps in my lower belly"),
        ("depression_hopelessness", "i feel worthless and numb inside"),
        ("vision_loss", "i suddenly lost the sight in my right eye"),
        ("palpitations", "my heart keeps skipping and racing"),
    ],
)
def test_urgent_category_escalates(engine: TriageEngine, category: str, text: str) -> None:
    result = engine.assess(text)
    assert result.level is not Level.NONE
    assert category in result.categories


@pytest.mark.parametrize(
    "text",
    [
        # figures of speech and ordinary exertion
        "I nearly passed out when I opened the bill",
        "sorry I am out of breath, I ran here from the bus stop",
        "I can barely lift my arms after the gym session",
        # history: dated from an event, a month, family history, already seen and sorted
        "since my heart attack I take a statin and need a refill",
        "after my TIA the specialist wants a follow up scan",
        "I had an allergic reaction in March and want an allergy test",
        "everyone on my mum's side had strokes, can I get checked",
        # long-standing and mild
        "she always feels faint when she has a blood test",
        "my husband says I stop breathing when I snore",
        "just the odd wheeze when I have a cold, I need my asthma review",
        "my daughter is doing a school project on strokes",
        # the new self-harm, bleeding and allergy rules stay quiet on ordinary talk
        "I am going to jump in the shower, can you call me back",
        "I drove into a wall in the car park last week, can I get my neck looked at",
        "i self harmed when i was younger and want to ask about the scars",
        "I sometimes pass small clots with my period, is that normal",
        "my son has a nut allergy, he ate a cookie last month and got hives, can we be referred",
    ],
)
def test_ordinary_calls_with_alarming_words_stay_none(engine: TriageEngine, text: str) -> None:
    assert engine.assess_final(text).level is Level.NONE  # neither the lexicon nor the net


@pytest.mark.parametrize(
    "text",
    [
        "no chest pain at all",
        "i do not have any chest pain",
        "patient denies shortness of breath",
        "she is not having trouble breathing",
        "he never had a seizure",
        "without fever or vomiting",
        "i'm not suicidal",
        "no bleeding since the stitches",
        "no fever or stiff neck",
    ],
)
def test_negated_red_flag_does_not_escalate(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).level is Level.NONE


@pytest.mark.parametrize(
    "text",
    [
        "I had a stroke two years ago",
        "my mom had a heart attack years ago",
        "history of seizures, doing fine",
        "my brother passed away from an overdose",
        "he collapsed once back in 2012",
        "my dad had a stroke last year and needs his paperwork",
    ],
)
def test_remote_history_does_not_escalate(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).level is Level.NONE


def test_recent_history_is_softened_to_urgent(engine: TriageEngine) -> None:
    assert engine.assess("I fainted yesterday at work").level is Level.URGENT


def test_recent_overdose_stays_emergent(engine: TriageEngine) -> None:
    assert engine.assess("she swallowed a whole bottle of pills last night").level is (
        Level.EMERGENT
    )


def test_history_does_not_hide_a_new_episode(engine: TriageEngine) -> None:
    result = engine.assess("I had a heart attack years ago and now my chest is tight again")
    assert result.level is Level.EMERGENT


def test_negation_does_not_reach_across_clauses(engine: TriageEngine) -> None:
    assert engine.assess("no fever but I can't breathe").level is Level.EMERGENT
    assert engine.assess("no he is not breathing").level is Level.EMERGENT


@pytest.mark.parametrize(
    "text",
    [
        "I need my asthma inhaler refilled",
        "book me a heart checkup",
        "refill my blood pressure medicine",
        "I have a stroke clinic appointment next week",
        "are my chest x-ray results in",
        "I'd like an appointment with the seizure clinic",
        "I need a new glucose meter and strips",
    ],
)
def test_benign_use_of_alarming_words_does_not_escalate(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).level is Level.NONE


def test_result_carries_flags_and_the_words_that_fired(engine: TriageEngine) -> None:
    result = engine.assess("My husband's chest HURTS, and he can't breathe!")
    assert result.level is Level.EMERGENT
    assert {"cardiac", "breathing"} <= set(result.categories)
    assert any("chest" in words.lower() for words in result.matched)
    payload = result.to_json()
    assert payload["level"] == "emergent"
    assert payload["text"] == "My husband's chest HURTS, and he can't breathe!"
    assert payload["flags"] == result.categories
    assert payload["matched"] == result.matched


def test_lowercase_unpunctuated_asr_text_is_handled(engine: TriageEngine) -> None:
    assert engine.assess("my wife cant breath and her lips r blue").level is Level.EMERGENT


def test_empty_and_neutral_text_is_none(engine: TriageEngine) -> None:
    assert engine.assess("").level is Level.NONE
    assert engine.assess("   ").flags == ()


def test_own_case_set_meets_recall_and_false_alarm_targets(engine: TriageEngine) -> None:
    report = evaluate(engine, read_cases(CASES))
    emergent_ok, emergent_total = report.rate("emergent")
    escalate_ok, escalate_total = report.rate("emergent", "urgent")
    benign_ok, benign_total = report.rate("none", "tricky")
    assert emergent_total >= 100 and benign_total >= 50
    assert emergent_ok == emergent_total, report.misses
    assert escalate_ok == escalate_total, report.misses
    assert (benign_total - benign_ok) / benign_total < 0.05, report.misses


def test_generalisation_set_meets_targets_apart_from_known_misses(engine: TriageEngine) -> None:
    report = evaluate(engine, read_cases(GENERALISATION))
    assert report.rate("emergent")[1] >= 150 and report.rate("none", "tricky")[1] >= 80
    missed = {text for _, _, text in report.misses}
    assert missed <= KNOWN_MISSES, sorted(missed - KNOWN_MISSES)


@pytest.mark.parametrize(
    "text",
    [
        "I swallowed all my sleeping pills",
        "my son swallowed all of his ADHD pills",
        "she took a whole bottle",
        "he ate the rest of the Tylenol",
        "my husband took every pill in the house",
        "i took all of my pills at once",
        "my mom took all of her heart pills",
        "I swallowed all my sleeping pills this morning",
        "she downed half a bottle of her antidepressants",
        "he took way more of his oxycodone than he should have",
        "i popped like twenty advil",
        "my daughter took a fistful of tablets",
    ],
)
def test_overdose_by_quantity_is_emergent(engine: TriageEngine, text: str) -> None:
    result = engine.assess(text)
    assert result.level is Level.EMERGENT
    assert "overdose_poisoning" in result.categories


@pytest.mark.parametrize(
    "text",
    [
        "I took all of my pills this morning",
        "took all my medications this morning like I'm supposed to",
        "i take all my meds with breakfast",
        "she already took all her medicines today",
        "i took all my evening pills",
        "i took all my antibiotics like the doctor said",
        "i finished the whole bottle of antibiotics and need a refill",
        "the pharmacy gave me too many pills in the bottle",
        "I took all my meds with me on vacation",
        "i ate too much at dinner",
    ],
)
def test_routine_doses_and_pill_counts_are_not_overdoses(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).level is Level.NONE


def test_double_dose_by_mistake_is_urgent(engine: TriageEngine) -> None:
    result = engine.assess("I took my blood thinner twice by accident")
    assert result.level is Level.URGENT
    assert "medication_error" in result.categories



@pytest.mark.parametrize(
    ("text", "level"),
    [
        # A monitor's reading said as people read it: "one ninety over one thirty", "two forty".
        ("the reading was one ninety over one thirty and my vision's gone funny", Level.EMERGENT),
        ("the top number is two forty and she's vomiting", Level.EMERGENT),
        ("my blood pressure is one eighty five over one ten", Level.URGENT),
        # The same words as a time or a dose are no reading.
        ("my blood pressure check is at two thirty", Level.NONE),
        ("can I book my bp review for one fifteen tomorrow", Level.NONE),
        ("she takes two twenty milligram blood pressure pills", Level.NONE),
    ],
)
def test_readings_said_in_words_are_read_as_numbers(
    engine: TriageEngine, text: str, level: Level
) -> None:
    assert engine.assess(text).level is level, engine.assess(text)


@pytest.mark.parametrize(
    "text",
    [
        # A red flag now, told with an earlier episode that was treated or cleared: history
        # words written for round 12's tricky lines silenced these, and were taken out.
        "she is having a seizure and got treated with her rescue meds but it is not stopping",
        "my husband has crushing chest pain, he got the all clear from cardiology last year",
        "he collapsed and is not breathing, he was fully cleared by the heart doctor in may",
        "he was treated for a heart attack and has crushing chest pain again",
        "my son overdosed and was treated by the paramedics he is drowsy",
    ],
)
def test_a_past_episode_treated_or_cleared_does_not_hide_the_red_flag_now(
    engine: TriageEngine, text: str
) -> None:
    assert engine.assess_final(text).level is Level.EMERGENT
