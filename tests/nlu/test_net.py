"""Specifications of the semantic safety net and the symptom signal (real model, real bank)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import yaml

from nlu.triage import Level, LexiconError, TriageEngine
from nlu.triage.embedder import SHARED, Embedder, ModelFiles, packaged_model_files
from nlu.triage.evaluate import read_set
from nlu.triage.net import DEFAULT_BANK, SafetyNet, load_bank, parse_bank

HERE = Path(__file__).parent
# The labelled example sets the bank is made of (never a held-out set, read once per round).
SETS = sorted(DEFAULT_BANK.with_name("examples").glob("*.tsv"))
# Described, not named: no rule of the lexicon is meant to know these words.
DESCRIBED = "my husband is dripping with sweat and says his whole upper body feels heavy"


@pytest.fixture(scope="module")
def engine() -> TriageEngine:
    engine = TriageEngine.default()
    assert engine.net is not None and engine.net.warm_up()
    return engine


def test_shipped_bank_validates_and_names_only_lexicon_categories(engine: TriageEngine) -> None:
    bank = load_bank(DEFAULT_BANK)
    assert 0 <= bank.margin < 0.5 and 0 < bank.min_score < 1 and bank.benign
    # One category is the net's own: same-day problems no lexicon category names (an ear
    # leaking, a bead up a nose); everything else is named as the lexicon names it.
    named = {category for category, _ in bank.descriptions}
    assert named <= {*engine.categories, "same_day_concern"}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"margin": "high"}, "'margin' must be a number"),
        ({"categories": {"cardiac": []}}, "must be a non-empty list"),
        ({"categories": {"cardiac": ["ok", ""]}}, "only non-empty strings"),
        ({"benign": None}, "'benign' must be a non-empty list"),
        ({"silent_when": ["(unclosed"]}, "'silent_when' does not compile"),
        ({"colour": "red"}, "the bank must be a mapping with keys"),
        ({"benign": ["I need a refill", "I need a refill"]}, "sentences listed twice"),
        ({"mild_margin": 3}, "'mild_margin' must be a number between 0 and 2"),
        ({"mild_exempt": ["no_such_category"]}, "'mild_exempt' must list categories"),
        ({"severe_when": ["(unclosed"]}, "'severe_when' does not compile"),
        ({"answer_min_score": 0.1}, "'answer_min_score' must be a number from min_score"),
        ({"answers": "dates.tsv"}, "'answers' must be a list of file names"),
        ({"screen_min_score": 1.5}, "'screen_min_score' must be a number between 0 and 1"),
        ({"screen_margin": "low"}, "'screen_margin' must be a number between -1 and 1"),
    ],
)
def test_a_bad_bank_edit_is_rejected_with_the_reason(edit: dict[str, object], reason: str) -> None:
    data = yaml.safe_load(DEFAULT_BANK.read_text())
    data.update(edit)
    with pytest.raises(LexiconError, match=reason):
        parse_bank(data, str(DEFAULT_BANK))


def test_a_description_no_rule_knows_is_raised_to_urgent_with_its_match(
    engine: TriageEngine,
) -> None:
    assert engine.assess(DESCRIBED).level is Level.NONE
    result = engine.assess_final(DESCRIBED)
    assert result.level is Level.URGENT
    assert result.net is not None and result.net.category == "cardiac"
    assert result.flags[0].source == "net" and result.flags[0].category == "cardiac"
    bank_lines = {line for _, line in engine.net.bank.descriptions}  # type: ignore[union-attr]
    assert result.net.description in bank_lines and 0 < result.net.score <= 1
    assert result.to_json()["net"]["description"] == result.net.description


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_the_net_only_raises_none_to_urgent(engine: TriageEngine, path: Path) -> None:
    for case in read_set(path):
        lexicon, final = engine.assess(case.text), engine.assess_final(case.text)
        if lexicon.level is not Level.NONE:
            assert final == lexicon, case.text
        elif final.net is not None:
            assert final.level is Level.URGENT and [f.source for f in final.flags] == ["net"]
        else:
            assert final == lexicon


@pytest.mark.parametrize(
    "text",
    [
        "i do not have any chest pain or pressure",
        "she had a stroke two years ago and needs a form",
        "i am booking a follow up at the stroke clinic",
        "no trouble breathing at all",
    ],
)
def test_the_net_is_silent_where_the_lexicon_suppressed_a_match(
    engine: TriageEngine, text: str
) -> None:
    result = engine.assess_final(text)
    assert result.suppressed and result.level is Level.NONE and result.net is None


def test_an_opening_bye_is_a_misheard_hi_not_a_farewell(engine: TriageEngine) -> None:
    """On a `make run` call flite's "Hi, I need to reschedule my appointment" came out "Bye, …"
    and the net heard a goodbye note in it: crisis line, a nurse."""
    assert engine.net is not None
    said = "Bye, I need to reschedule my appointment."
    assert engine.net.score(said) == engine.net.score("I need to reschedule my appointment.")
    assert engine.assess_final(said).level is Level.NONE
    # What follows the bye is heard as ever.
    assert engine.assess_final("Bye, I don't want to live anymore.").level is Level.EMERGENT


def test_the_net_is_silent_when_the_caller_says_it_is_over(engine: TriageEngine) -> None:
    assert engine.net is not None
    assert engine.net.match("my son fell off the swing but he is fine now") is None


@pytest.mark.parametrize(
    ("text", "mild"),
    [
        # played down by how much, how often, how long, or a routine request
        ("I get a slight ache in my chest now and then when I climb the stairs", True),
        ("my chest has been a bit tight for months, could I book a check up", True),
        ("I am ringing for my results and my heart flutters sometimes", True),
        ("we are planning a baby and I have epilepsy, is my medicine all right", True),
        # ...unless it is also said to be bad or sudden now
        ("I am ringing for my results but I can barely breathe right now", False),
        ("a bit of a headache and now suddenly I cannot see out of one eye", False),
        ("my chest is crushing and I am sweating", False),
    ],
)
def test_a_played_down_line_needs_the_wider_margin(
    engine: TriageEngine, text: str, mild: bool
) -> None:
    assert engine.net is not None
    scored = engine.net.score(text)
    assert scored is not None and scored.mild is mild
    wide = engine.net.bank.margin + engine.net.bank.mild_margin
    fires = scored.score >= engine.net.bank.min_score and scored.margin >= (
        wide if mild else engine.net.bank.margin
    )
    assert engine.net.fires(scored) is fires


@pytest.mark.parametrize(
    "text",
    [
        "It's January 9, 2005.",  # a real answer that once sat near "can't tell what year it is"
        "september the fourteenth two thousand and one",
        "um my date of birth is the 3rd of march 1962",
        "my name is Siobhan Wojciechowski",
    ],
)
def test_answers_to_the_identity_questions_raise_nothing(engine: TriageEngine, text: str) -> None:
    assert engine.assess_final(text, answering=True).level is Level.NONE
    assert engine.assess_final(text).level is Level.NONE


def test_an_answer_turn_needs_the_answer_floor_and_a_real_description_still_clears_it(
    engine: TriageEngine,
) -> None:
    net = engine.net
    assert net is not None and net.bank.answer_min_score > net.bank.min_score
    # A misheard name (from the names bench): near a description by chance, below the floor.
    misheard = "Free port wet, the only rope."
    scored = net.score(misheard)
    assert scored is not None and scored.score < net.bank.answer_min_score
    assert engine.assess_final(misheard, answering=True).level is Level.NONE
    # Said instead of a name, a description the lexicon does not know still reaches a nurse.
    described = "he is all clammy and pale"
    assert engine.assess(described).level is Level.NONE
    assert engine.assess_final(described, answering=True).level is Level.URGENT


def test_self_harm_is_never_played_down(engine: TriageEngine) -> None:
    assert engine.net is not None
    scored = engine.net.score("sometimes I think everyone would be better off without me around")
    assert scored is not None and scored.category == "suicide_self_harm"
    assert not scored.mild


def test_the_model_is_loaded_once_per_process_even_under_concurrent_first_use() -> None:
    calls: list[ModelFiles] = []
    gate = threading.Barrier(8)

    def counting_loader(files: ModelFiles) -> Embedder:
        calls.append(files)
        return SHARED.get(files)

    net = SafetyNet(load_bank(DEFAULT_BANK), loader=counting_loader)

    def first_use() -> None:
        gate.wait()
        net.match(DESCRIBED)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    loads = SHARED.loads
    other = TriageEngine.default()
    assert other.net is not None and other.net.warm_up()
    assert SHARED.loads == loads  # a second engine shares the process's model
    assert SHARED.get(packaged_model_files()) is SHARED.get(packaged_model_files())


def test_without_its_model_triage_runs_lexicon_only_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = ModelFiles(onnx=tmp_path / "absent.onnx", tokenizer=tmp_path / "absent.json")
    net = SafetyNet(load_bank(DEFAULT_BANK), model_files=missing)
    base = TriageEngine.default()
    engine = TriageEngine(base.lexicon, symptoms=base.symptoms, net=net)
    with caplog.at_level(logging.WARNING, logger="nlu.triage.net"):
        for _ in range(3):
            assert engine.assess_final(DESCRIBED) == engine.assess(DESCRIBED)
        assert engine.assess_final("I can't breathe").level is Level.EMERGENT
    assert not net.available
    warnings = [r for r in caplog.records if "lexicon only" in r.getMessage()]
    assert len(warnings) == 1


def test_partials_get_the_lexicon_alone(engine: TriageEngine) -> None:
    assert engine.assess(DESCRIBED).net is None


@pytest.mark.parametrize(
    "text",
    [
        "my leg hurts",
        "I've had a headache for three days",
        "I feel weird",
        "I can't sleep",
        "my stomach has been bothering me and I threw up",
        "she's got a rash all over her belly",
        "I've been so dizzy today",
        "my son has a fever and a cough",
        "I twisted my ankle",
        "I feel anxious all the time",
        "there's blood in my pee",
        "my back is killing me",
    ],
)
def test_a_described_symptom_is_signalled(engine: TriageEngine, text: str) -> None:
    assert engine.assess(text).symptom


@pytest.mark.parametrize(
    "text",
    [
        "I need a refill of my pain medication",
        "can I get the results of my blood test",
        "I'd like to book a physical",
        "I need to renew my allergy medicine",
        "what time do you close on Fridays",
        "I have no pain at all, I just need my records",
        "I need my prescription for migraine pills sent to the pharmacy",
        "my doctor ordered blood work",
        "can you fax my sick note to my employer",
        "I have a question about my bill",
    ],
)
def test_no_symptom_is_signalled_for_ordinary_requests(engine: TriageEngine, text: str) -> None:
    assert not engine.assess(text).symptom


def test_a_bad_symptom_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "symptoms.yaml"
    path.write_text("patterns: ['hurts']\nexamples: ['my knee is fine']\n")
    with pytest.raises(LexiconError, match="is not a symptom"):
        TriageEngine.from_file(
            Path(__file__).parents[2] / "nlu" / "triage" / "lexicon.yaml",
            symptoms=path, net_bank=None,
        )  # fmt: skip


def _bank_with_examples(tmp_path: Path, lines: str) -> Path:
    """The shipped bank's settings and hand-written lines, with one example file of our own."""
    data = yaml.safe_load(DEFAULT_BANK.read_text())
    data["examples"], data["answers"] = ["mine.tsv"], []
    (tmp_path / "mine.tsv").write_text(lines)
    path = tmp_path / "net_bank.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_example_lines_join_the_bank_with_their_file_as_origin(tmp_path: Path) -> None:
    bank = load_bank(_bank_with_examples(tmp_path, (
        "# a comment\n"
        "emergent\tcardiac\tmy dad keeps rubbing his chest and he has gone a funny colour\n"
        "urgent\thigh_fever\tthe baby is burning up and floppy since lunch\n"
        "none\tscheduling\tcan I move my smear test to next week\n"
        "tricky\ttricky\tthis parking fine nearly gave me a heart attack\n"
    )))
    mine = [(c, d) for (c, d), o in zip(bank.descriptions, bank.description_origins, strict=True)
            if o == "mine.tsv"]
    assert mine == [
        ("cardiac", "my dad keeps rubbing his chest and he has gone a funny colour"),
        ("high_fever", "the baby is burning up and floppy since lunch"),
    ]
    benign = [b for b, o in zip(bank.benign, bank.benign_origins, strict=True) if o == "mine.tsv"]
    assert benign == ["can I move my smear test to next week",
                      "this parking fine nearly gave me a heart attack"]


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ("urgent\tcardiac\tmy chest hurts a lot\nnone\tnone\tmy chest hurts a lot\n",
         "labelled both ways"),
        ("emergent\tChest Pain!\tmy chest hurts a lot\n", "category 'Chest Pain!'"),
        ("emergent\tmy chest hurts a lot\n", "want label, category, text"),
        ("maybe\tcardiac\tmy chest hurts a lot\n", "want label, category, text"),
    ],
)
def test_a_bad_example_file_is_rejected_with_the_line(
    tmp_path: Path, lines: str, reason: str
) -> None:
    with pytest.raises(LexiconError, match=reason):
        load_bank(_bank_with_examples(tmp_path, lines))


def test_a_file_of_answers_may_hold_only_ordinary_lines(tmp_path: Path) -> None:
    path = _bank_with_examples(tmp_path, "none\tnone\tmy date of birth is the 3rd of May 1950\n")
    data = yaml.safe_load(path.read_text())
    data["examples"], data["answers"] = [], ["mine.tsv"]
    path.write_text(yaml.safe_dump(data))
    bank = load_bank(path)
    assert bank.answer_files == ("mine.tsv",)
    assert "my date of birth is the 3rd of May 1950" in bank.benign
    (tmp_path / "mine.tsv").write_text("urgent\tcardiac\tmy chest feels odd\n")
    with pytest.raises(LexiconError, match="answers are ordinary lines"):
        load_bank(path)


def test_a_sentence_labelled_both_ways_across_files_is_rejected(tmp_path: Path) -> None:
    path = _bank_with_examples(tmp_path, "urgent\tcardiac\tmy chest feels odd\n")
    (tmp_path / "other.tsv").write_text("none\tnone\tmy chest feels odd\n")
    data = yaml.safe_load(path.read_text())
    data["examples"].append("other.tsv")
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LexiconError, match="ordinary, elsewhere a red flag"):
        load_bank(path)


def test_a_missing_example_file_is_named(tmp_path: Path) -> None:
    path = _bank_with_examples(tmp_path, "")
    (tmp_path / "mine.tsv").unlink()
    with pytest.raises(LexiconError, match="example file 'mine.tsv' is missing"):
        load_bank(path)


def test_the_embedded_bank_is_kept_on_disk_and_never_read_stale(tmp_path: Path) -> None:
    embedded: list[int] = []

    class Counting:
        """The real embedder, counting how many sentences it is asked to embed."""

        def __init__(self, real: Embedder) -> None:
            self.real, self.fingerprint = real, real.fingerprint

        def embed(self, texts: list[str]) -> object:
            embedded.append(len(texts))
            return self.real.embed(texts)

    def loader(files: ModelFiles) -> Embedder:
        return Counting(SHARED.get(files))  # type: ignore[return-value]

    first = load_bank(_bank_with_examples(tmp_path, "urgent\tcardiac\tmy chest is so tight\n"))
    size = len(first.descriptions) + len(first.benign)
    cache = tmp_path / "cache"
    assert SafetyNet(first, loader=loader, cache_dir=cache).warm_up()
    assert embedded == [size]  # embedded once, then kept
    again = SafetyNet(first, loader=loader, cache_dir=cache)
    assert again.score(DESCRIBED) is not None
    assert embedded == [size, 1]  # only the caller's sentence this time
    edited = load_bank(_bank_with_examples(tmp_path, "urgent\tcardiac\tmy chest is so heavy\n"))
    assert SafetyNet(edited, loader=loader, cache_dir=cache).warm_up()
    assert embedded == [size, 1, size]  # another bank is embedded anew, not read stale
    (next(cache.glob("triage-net-*.npy"))).write_bytes(b"not an array")
    assert SafetyNet(first, loader=loader, cache_dir=cache).warm_up()  # a broken file costs time


def test_words_close_to_a_red_flag_that_do_not_fire_ask_the_screening_question(
    engine: TriageEngine,
) -> None:
    net = engine.net
    assert net is not None
    bank = net.bank
    # The question reaches lines that do not fire: close to a red flag, but not clearly
    # closer to it than to the ordinary (a smaller margin), whatever the two least scores.
    assert bank.screen_margin < bank.margin
    near = fired = 0
    # Lines the bank does not hold (the blind set of round 14): every example is in the bank.
    for case in read_set(HERE / "triage_heldout11.tsv"):
        result = engine.assess_final(case.text)
        scored = None if result.level is not Level.NONE else net.score(case.text)
        if scored is None or result.suppressed:
            assert result.near is None
            continue
        if result.near is not None:
            near += 1
            assert not net.fires(scored) and net.near(scored) and result.screen
            assert result.near.category == scored.category
            assert result.to_json()["near"]["category"] == scored.category
        else:
            fired += net.fires(scored)
            assert not net.near(scored) or net.fires(scored)
    assert near > 0  # the file holds lines the net only comes close to


def test_answers_to_the_identity_questions_are_never_near(engine: TriageEngine) -> None:
    answers = read_set(DEFAULT_BANK.with_name("examples") / "identity_answers.tsv")
    for case in answers:
        result = engine.assess_final(case.text, answering=True)
        assert result.near is None and result.level is Level.NONE, case.text
