"""The dialogs' training phrasings as data a supervisor can extend: read the shipped examples,
check a new one, and lay out a project (the shipped files plus the clinic's additions) that
`dialogs.train` trains like the shipped one.

The clinic's additions live in the store (`clinicline.flows.training`), never in the shipped
files: a project is laid out afresh from them for each training, so the same additions give
the same project hash, hence the same model file, on every machine.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import yaml

from dialogs.train import PROJECT_DIR, TRAINING_INPUTS

# The file of the clinic's additions inside a laid-out project.
ADDED_FILE = Path("data") / "nlu_clinic_added.yml"
MAX_EXAMPLE_CHARS = 200
MAX_ADDED_PER_INTENT = 200
# Entity markup in a shipped example ("[lisinopril](medication)"): shown as its words.
_MARKUP = re.compile(r"\[([^\]]*)\]\([^)]*\)")

# {intent: [example, ...], "lookup:<table>": [entry, ...]}: the clinic's additions, in the
# order they were added. A lookup table is a list of words (medicines, specialists, insurers)
# whose presence is a feature of the sentence (RegexFeaturizer): a clinic adds its own names.
Additions = dict[str, list[str]]
LOOKUP = "lookup:"
MAX_LOOKUP_CHARS = 60
# A name as a recogniser writes it: words of letters and digits, with - ' . & between.
_NAME = re.compile(r"[a-z0-9]+(?:[-'.&]?[a-z0-9]+)*\.?(?: [a-z0-9]+(?:[-'.&]?[a-z0-9]+)*\.?){0,5}")


class TrainingDataError(ValueError):
    """An example the training data cannot take; the message says why."""


def normalised(text: str) -> str:
    """The form examples are compared in: case, spacing and end punctuation do not count."""
    return " ".join(text.lower().split()).rstrip(".!?")


def intents_of(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The intents the domain declares, in its order."""
    domain = yaml.safe_load((project_dir / "domain.yml").read_text(encoding="utf-8")) or {}
    return [str(i) if not isinstance(i, dict) else str(next(iter(i))) for i in domain["intents"]]


def _shipped_entries(project_dir: Path, kind: str) -> Iterator[tuple[str, list[str]]]:
    """(name, items) of every `kind` entry ("intent", "lookup") in the project's NLU files,
    the clinic's added file left out."""
    for path in sorted((project_dir / "data").glob("*.yml")):
        if path.name == ADDED_FILE.name:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("nlu") or []:
            if kind in entry:
                lines = str(entry.get("examples") or "").splitlines()
                items = [ln.strip()[2:].strip() for ln in lines if ln.strip().startswith("- ")]
                yield str(entry[kind]), items


def shipped_examples(project_dir: Path = PROJECT_DIR) -> dict[str, list[str]]:
    """Every intent's examples in the project's NLU files (entity markup shown as words)."""
    found: dict[str, list[str]] = {name: [] for name in intents_of(project_dir)}
    for intent, items in _shipped_entries(project_dir, "intent"):
        examples = (_MARKUP.sub(r"\1", item).strip() for item in items)
        found.setdefault(intent, []).extend(e for e in examples if e)
    return found


def shipped_lookups(project_dir: Path = PROJECT_DIR) -> dict[str, list[str]]:
    """Every lookup table in the project's NLU files: {table: [entry, ...]}."""
    found: dict[str, list[str]] = {}
    for table, items in _shipped_entries(project_dir, "lookup"):
        found.setdefault(table, []).extend(items)
    return found


def check_lookup_entry(
    key: str, text: str, lookups: dict[str, list[str]], added: Additions
) -> str:
    """TEXT cleaned for the lookup table KEY ("lookup:<table>"), or TrainingDataError saying
    why it cannot be one. Entries are lowercase: recognised speech arrives that way."""
    table = key.removeprefix(LOOKUP)
    if table not in lookups:
        raise TrainingDataError(f"there is no word list '{table}'")
    cleaned = " ".join(text.lower().split())
    if not cleaned:
        raise TrainingDataError("an entry needs a name")
    if len(cleaned) > MAX_LOOKUP_CHARS:
        raise TrainingDataError(f"an entry is at most {MAX_LOOKUP_CHARS} characters")
    if not _NAME.fullmatch(cleaned):
        raise TrainingDataError(
            "an entry is a name of up to six words: letters and digits, with - ' . & inside"
        )
    if cleaned in lookups[table] or cleaned in added.get(key, []):
        raise TrainingDataError(f"'{cleaned}' is already in the {table} list")
    if len(added.get(key, [])) >= MAX_ADDED_PER_INTENT:
        raise TrainingDataError(f"the {table} list has {MAX_ADDED_PER_INTENT} added names already")
    return cleaned


def check_example(intent: str, text: str, shipped: dict[str, list[str]], added: Additions) -> str:
    """TEXT cleaned for INTENT's examples, or TrainingDataError saying why it cannot be one."""
    if intent not in shipped:
        raise TrainingDataError(f"there is no intent '{intent}'")
    cleaned = " ".join(text.split())
    if len(cleaned) < 2:
        raise TrainingDataError("an example needs words")
    if len(cleaned) > MAX_EXAMPLE_CHARS:
        raise TrainingDataError(f"an example is at most {MAX_EXAMPLE_CHARS} characters")
    if any(c in cleaned for c in "[]{}") or cleaned.startswith(("-", "#", "/")):
        raise TrainingDataError("an example is plain words: no brackets, braces or leading - # /")
    key = normalised(cleaned)
    for name in shipped.keys() | {k for k in added if not k.startswith(LOOKUP)}:
        if any(normalised(e) == key for e in shipped.get(name, []) + added.get(name, [])):
            if name == intent:
                raise TrainingDataError(f"'{cleaned}' is already an example of '{intent}'")
            raise TrainingDataError(
                f"'{cleaned}' is already an example of '{name}': remove it there first"
            )
    if len(added.get(intent, [])) >= MAX_ADDED_PER_INTENT:
        raise TrainingDataError(f"'{intent}' has {MAX_ADDED_PER_INTENT} added examples already")
    return cleaned


class _BlockDumper(yaml.SafeDumper):
    """Writes many-line strings as literal blocks, the way Rasa's own files hold examples."""


_BlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def split_additions(added: Additions) -> tuple[Additions, dict[str, list[str]]]:
    """(the added phrasings by intent, the added names by lookup table), empty lists left out."""
    phrasings = {k: v for k, v in added.items() if v and not k.startswith(LOOKUP)}
    names = {k.removeprefix(LOOKUP): v for k, v in added.items() if v and k.startswith(LOOKUP)}
    return phrasings, names


def _items(entries: list[str]) -> str:
    return "".join(f"- {e}\n" for e in entries)


def added_file_text(added: Additions) -> str:
    """The clinic's added phrasings as a Rasa NLU file (YAML written by the library: any words
    are quoted safely). Lookup additions are not here: `lay_out` puts them in their tables."""
    phrasings, _names = split_additions(added)
    entries = [
        {"intent": intent, "examples": _items(examples)}
        for intent, examples in sorted(phrasings.items())
    ]
    body = yaml.dump(
        {"version": "3.1", "nlu": entries}, Dumper=_BlockDumper, sort_keys=False, width=1000
    )
    return "# The clinic's own examples, added in the console's Flows area.\n" + body


def _extend_lookups(data_dir: Path, names: dict[str, list[str]]) -> None:
    """Append the clinic's NAMES to the shipped lookup tables in DATA_DIR's copies. In the same
    table, not one of their own: RegexFeaturizer makes one feature per table, and a table only
    the clinic's few phrasings ever show would teach the model nothing."""
    left = dict(names)
    for path in sorted(data_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        tables = [e for e in data.get("nlu") or [] if str(e.get("lookup")) in left]
        for table in tables:
            table["examples"] = str(table.get("examples") or "") + _items(left.pop(table["lookup"]))
        if tables:
            text = yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=1000)
            path.write_text("# Laid out with the clinic's own names.\n" + text, encoding="utf-8")
    if left:
        raise TrainingDataError(f"no lookup table named {', '.join(sorted(left))}")


def lay_out(added: Additions, into: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """A project in INTO: the shipped training inputs, the additions' file when phrasings were
    added, the clinic's names inside their lookup tables (nothing added: the same bytes as the
    shipped project, hence the shipped model)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for name in TRAINING_INPUTS:
        source = project_dir / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns(ADDED_FILE.name))
        else:
            shutil.copy(source, into / name)
    phrasings, names = split_additions(added)
    if names:
        _extend_lookups(into / "data", names)
    if phrasings:
        (into / ADDED_FILE).write_text(added_file_text(phrasings), encoding="utf-8")
    return into
