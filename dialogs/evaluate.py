"""Intent accuracy of a running Rasa server on a labelled file (`intent<TAB>text` lines).

    python -m dialogs.evaluate FILE [--url http://127.0.0.1:5005]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dialogs.client import RasaClient

# Phrasings the model never trains on, labelled with their intents: what a draft model is
# judged on before it may be published (`clinicline.flows.trainer`).
EVALUATION_DIR = Path(__file__).resolve().parent / "evaluation"
# The shared development set sits beside a checkout; an installed clinic has none.
SHARED_DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "intents.tsv"


def evaluation_sets() -> tuple[Path, ...]:
    """The project's held-out sets, and the shared development set where it is there."""
    own = tuple(sorted(EVALUATION_DIR.glob("*.tsv")))
    return own + ((SHARED_DEV_SET,) if SHARED_DEV_SET.exists() else ())


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    errors: list[tuple[str, str, str, float]] = field(default_factory=list)  # gold, got, text, conf
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def read_labelled(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        intent, _, text = line.partition("\t")
        rows.append((intent.strip(), text.strip()))
    return rows


async def evaluate(client: RasaClient, rows: list[tuple[str, str]]) -> Evaluation:
    result = Evaluation()
    for gold, text in rows:
        parsed = await client.parse(text)
        intent = parsed.get("intent") or {}
        got, confidence = str(intent.get("name")), float(intent.get("confidence") or 0.0)
        result.total += 1
        if got == gold:
            result.correct += 1
        else:
            result.errors.append((gold, got, text, confidence))
            result.confusions[(gold, got)] += 1
    return result


async def _main(path: Path, url: str, token: str) -> int:
    client = RasaClient(url, token=token)
    try:
        result = await evaluate(client, read_labelled(path))
    finally:
        await client.close()
    print(f"{path.name}: {result.correct}/{result.total} = {result.accuracy:.1%}")
    for gold, got, text, confidence in result.errors:
        print(f"  {gold} -> {got} ({confidence:.2f}): {text}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--token", default=os.environ.get("CLINICLINE_RASA_TOKEN", ""),
                        help="the server's API token (default: CLINICLINE_RASA_TOKEN)")
    args = parser.parse_args()
    sys.exit(asyncio.run(_main(args.file, args.url, args.token)))
