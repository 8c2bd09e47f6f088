"""`clinicline bench --training`: the supervisors' training loop, whole, timed.

On a store of its own: phrasings callers use that the shipped data lacks are added to their
intents (as the Flows area does), the version is validated, trained and evaluated beside the
shipped model (`clinicline.flows.trainer`); then it is published to a running `clinicline
serve` with the real Rasa, and the time until its dialogs answer with the new model is
measured. Output: OUT/training.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from clinicline.flows import training
from clinicline.flows.trainer import Trainer
from clinicline.harness import free_port, publish_trained, start_demo_clinic
from dialogs.train import PROJECT_DIR, model_path
from dialogs.training_data import lay_out, shipped_examples
from integrations.store import Database
from integrations.store.models import TrainingVersion

# A phrasing a supervisor might find in the Missed list: a lay word the shipped examples do
# not use. (A first run added three phrasings; the gate refused that draft: it understood
# fewer held-out lines than the shipped model. The gate is what it is for.)
ADDED = (("request_refill", "my puffer is nearly empty"),)


async def _train(db: Database, work: Path) -> tuple[int, dict[str, float], TrainingVersion]:
    """Add the phrasings, train; (version, seconds per step, the finished row)."""
    base = None
    for intent, text in ADDED:
        async with db.session() as s:
            version = await training.add_example(
                s, intent=intent, text=text, base=base, actor="bench", shipped=shipped_examples()
            )
        base = version.id
    assert base is not None
    # A model trained before for the same phrasings would be reused in no time: train afresh.
    async with db.session() as s:
        added = training.additions_of(await s.get(TrainingVersion, base))
    model_path(lay_out(added, work / "fresh"), PROJECT_DIR / "models").unlink(missing_ok=True)
    trainer = Trainer(db, PROJECT_DIR, work)
    started = time.monotonic()
    await trainer.start(base, "bench")
    steps: dict[str, float] = {}
    step, since = "queued", started
    while True:
        await asyncio.sleep(1.0)
        async with db.session() as s:
            row = await s.get(TrainingVersion, base)
            assert row is not None
            now_step, state = row.progress.get("step", step), training.shown_state(row)
        if now_step != step:
            steps[step] = steps.get(step, 0.0) + time.monotonic() - since
            step, since = now_step, time.monotonic()
        if state in ("ready", "failed"):
            steps["total"] = time.monotonic() - started
            return base, steps, row


def _swap_seconds(row: TrainingVersion, tmp: Path) -> float:
    """Publish the trained version to a running server; seconds until its dialogs use it."""
    server = start_demo_clinic(
        tmp, data_dir=Path(os.environ.get("CLINICLINE_DATA_DIR", "var")),
        env={}, extra_args=["--rasa-port", str(free_port())], ready_timeout=1500,
        want=("ready",),
    )  # fmt: skip
    try:
        published = time.monotonic()
        assert row.model is not None
        publish_trained(server, row.edits, row.model, row.evaluation)
        line = f"dialogs: model {row.model}.tar.gz in use"
        while line not in server.log():
            if time.monotonic() - published > 900:
                raise RuntimeError("the published model was not in use after 900 s")
            time.sleep(0.5)
        return time.monotonic() - published
    finally:
        server.stop()


def _markdown(result: dict[str, Any]) -> str:
    e = result["evaluation"]
    lines = [
        "# The training loop (`clinicline bench --training`)",
        "",
        f"Measured {result['date']} on this machine ({result['machine']}).",
        "",
        "Phrasings added (one version):",
        *[f"- {intent}: “{text}”" for intent, text in ADDED],
        "",
        "| step | seconds |",
        "|---|---|",
        *[f"| {step} | {seconds:.0f} |" for step, seconds in result["steps"].items()],
        "| publish → the server's dialogs answer with it | "
        + (f"{result['swap_seconds']:.0f} |" if result["swap_seconds"] is not None
           else "not published: the gate refused it |"),
        "",
        "| held-out set | lines | shipped model | draft model |",
        "|---|---|---|---|",
        *[f"| {s['set']} | {s['total']} | {s['published']} | {s['draft']} |" for s in e["sets"]],
        f"| **all** | {e['total']} | {e['published']} | {e['draft']} |",
        "",
        f"The added phrasings understood by the draft model: {e['added_understood']}/{e['added']}."
        f" Publishable: {'yes' if e['passed'] else 'no'} (it may not understand fewer held-out"
        " lines than the published model).",
        "",
        "Lines the draft lost: " + ("; ".join(f"“{x['text']}” ({x['intent']} → "
                                              f"{x['heard_as']})" for x in e["lost"]) or "none"),
        "",
        "Lines it gained: " + ("; ".join(f"“{x['text']}” ({x['intent']})" for x in e["gained"])
                               or "none"),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def run_bench_training(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-training-"))
    try:

        async def train() -> tuple[int, dict[str, float], TrainingVersion]:
            db = await Database.connect(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
            try:
                await db.migrate()
                return await _train(db, tmp / "work")
            finally:
                await db.dispose()

        _, steps, row = asyncio.run(train())
        if row.state != "ready":
            print(f"training failed: {row.progress}")
            return 1
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{len(os.sched_getaffinity(0))} cores, {platform.platform()}",
            "steps": steps, "evaluation": row.evaluation, "model": row.model,
            "swap_seconds": (
                _swap_seconds(row, tmp / "serve") if row.evaluation.get("passed") else None
            ),
        }  # fmt: skip
        (out / "training.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (out / "training.md").write_text(_markdown(result), encoding="utf-8")
        print(_markdown(result))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
