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
from pathlib import Path

import yaml

from dialogs.train import PROJECT_DIR, TRAINING_INPUTS

# The file of the clinic's additions inside a laid-out project.
ADDED_FILE = Path("data") / "nlu_clinic_added.yml"
MAX_EXAMPLE_CHARS = 200
MAX_ADDED_PER_INTENT = 200
# Entity markup in a shipped example ("[lisinopril](medication)"): shown as its words.
_MARKUP = re.compile(r"\[([^\]]*)\]\([^)]*\)")

# {intent: [example, ...]}: the clinic's additions, in the order they were added.
Additions = dict[str, list[str]]


class TrainingDataError(ValueError):
    """An example the training data cannot take; the message says why."""


def normalised(text: str) -> str:
    """The form examples are compared in: case, spacing and end punctuation do not count."""
    return " ".join(text.lower().split()).rstrip(".!?")


def intents_of(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The intents the domain declares, in its order."""
    domain = yaml.safe_load((project_dir / "domain.yml").read_text(encoding="utf-8")) or {}
    return [str(i) if not isinstance(i, dict) else str(next(iter(i))) for i in domain["intents"]]


def shipped_examples(project_dir: Path = PROJECT_DIR) -> dict[str, list[str]]:
    """Every intent's examples in the project's NLU files (entity markup shown as words)."""
    found: dict[str, list[str]] = {name: [] for name in intents_of(project_dir)}
    for path in sorted((project_dir / "data").glob("*.yml")):
        if path.name == ADDED_FILE.name:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("nlu") or []:
            if "intent" not in entry:
                continue
            lines = str(entry.get("examples") or "").splitlines()
            examples = [
                _MARKUP.sub(r"\1", ln.strip()[2:]).strip()
                for ln in lines
                if ln.strip().startswith("- ")
            ]
            found.setdefault(str(entry["intent"]), []).extend(e for e in examples if e)
    return found


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
    for name in shipped.keys() | added.keys():
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


def added_file_text(added: Additions) -> str:
    """The clinic's additions as a Rasa NLU file (YAML written by the library: any words are
    quoted safely)."""
    entries = [
        {"intent": intent, "examples": "".join(f"- {e}\n" for e in examples)}
        for intent, examples in sorted(added.items())
        if examples
    ]
    body = yaml.dump(
        {"version": "3.1", "nlu": entries}, Dumper=_BlockDumper, sort_keys=False, width=1000
    )
    return "# The clinic's own examples, added in the console's Flows area.\n" + body


def lay_out(added: Additions, into: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """A project in INTO: the shipped training inputs, and the additions' file when there are
    any (none: the same bytes as the shipped project, hence the shipped model)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for name in TRAINING_INPUTS:
        source = project_dir / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns(ADDED_FILE.name))
        else:
            shutil.copy(source, into / name)
    if any(added.values()):
        (into / ADDED_FILE).write_text(added_file_text(added), encoding="utf-8")
    return into
