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
import logging
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from clinicline.bench_load import scratch_database, start_site
from clinicline.dialogs_runtime import SWAP_GRACE
from clinicline.flows import training
from clinicline.flows.trainer import Trainer
from clinicline.harness import publish_trained
from dialogs.train import PROJECT_DIR, model_path
from dialogs.training_data import lay_out, shipped_examples
from integrations.store import Database
from integrations.store.models import TrainingVersion

# A phrasing a supervisor might find in the Missed list: a lay word the shipped examples do
# not use. (A first run added three phrasings; the gate refused that draft: it understood
# fewer held-out lines than the shipped model. The gate is what it is for.)
ADDED = (("request_refill", "my puffer is nearly empty"),)
# The site the version is published to: its workers take the swap turn one after the other.
WORKERS = 2


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


# What the workers' supervisors log as they swap (clinicline.dialogs_runtime), timestamped.
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \w+ [\w.]+: (dialogs: .*)$")


def swap_timeline(log: str, model: str, since: float) -> list[tuple[float, str]]:
    """The site log's lines about swapping to MODEL (and waiting for the turn), as (seconds
    after SINCE, line), in order."""
    timeline = []
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        if match is None or not (model in line or "waits its turn" in line):
            continue
        stamp = time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S")) + int(match[2]) / 1000
        if stamp >= since - 1:
            timeline.append((stamp - since, match[3]))
    return timeline


async def _publish_to_site(row: TrainingVersion, work: Path) -> dict[str, Any]:
    """Publish the trained version to a running site (`serve --workers 2` with Rasa, on
    PostgreSQL) and follow its workers swapping to it, one at a time (the store's turn)."""
    assert row.model is not None
    wanted = f"dialogs: model {row.model}.tar.gz in use"
    work.mkdir(parents=True, exist_ok=True)
    async with scratch_database("clinicline_training") as db_url:
        site = start_site(work, db_url, WORKERS, rasa=True)
        try:
            await asyncio.to_thread(site.wait_ready, 1500)
            published = time.time()
            key = site.env["CLINICLINE_DATA_KEY"].encode()
            await asyncio.to_thread(
                publish_trained, db_url, row.edits, row.model, row.evaluation, key
            )
            while site.log.read_text().count(wanted) < WORKERS:
                if time.time() - published > 1800:
                    raise RuntimeError(f"not every worker had {row.model} in use after 1800 s")
                await asyncio.sleep(1.0)
            await asyncio.sleep(SWAP_GRACE + 5)  # the last turn given back, old Rasa stopped
            timeline = swap_timeline(site.log.read_text(), row.model, published)
        finally:
            site.stop()
    in_use = [s for s, line in timeline if line.startswith(wanted)]
    return {
        "workers": WORKERS,
        "timeline": timeline,
        "first_in_use": in_use[0],
        "all_in_use": in_use[-1],
        "one_at_a_time": one_load_at_a_time(timeline, row.model, WORKERS),
    }


def one_load_at_a_time(timeline: list[tuple[float, str]], model: str, workers: int) -> bool:
    """Whether each of the WORKERS started its Rasa with MODEL only after the one before had
    it in use: never two loading at once."""
    starts = [
        at for at, line in timeline if line.startswith(f"dialogs: starting Rasa with {model}")
    ]
    in_use = [
        at for at, line in timeline if line.startswith(f"dialogs: model {model}.tar.gz in use")
    ]
    return len(starts) == len(in_use) == workers and all(
        start >= done for start, done in zip(starts[1:], in_use, strict=False)
    )


def _site_lines(site: dict[str, Any] | None) -> list[str]:
    if site is None:
        return ["Not published: the gate refused it."]
    return [
        f"Published to a site of {site['workers']} workers with Rasa (`serve --workers"
        f" {site['workers']}`, PostgreSQL): the first worker answered with the new model"
        f" {site['first_in_use']:.0f} s after the publish, every worker {site['all_in_use']:.0f}"
        f" s after. One model load at a time: {'yes' if site['one_at_a_time'] else 'NO'}.",
        "",
        "| seconds after the publish | the site's log |",
        "|---|---|",
        *[f"| {at:.1f} | {line} |" for at, line in site["timeline"]],
    ]


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
        "",
        f"How the draft was trained: {result['trained']}.",
        "",
        *_site_lines(result["site"]),
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


class _TrainedHow(logging.Handler):
    """How `dialogs.train` trained the draft (fine-tuned, or in full), from what it logs."""

    how = "not said"

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("training dialog model"):
            self.how = message.removeprefix("training dialog model ").split(" ", 1)[-1].strip("()")


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

        trained = _TrainedHow()
        logging.getLogger("dialogs.train").addHandler(trained)
        _, steps, row = asyncio.run(train())
        if row.state != "ready":
            print(f"training failed: {row.progress}")
            return 1
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{len(os.sched_getaffinity(0))} cores, {platform.platform()}",
            "steps": steps, "evaluation": row.evaluation, "model": row.model,
            "trained": trained.how,
            "site": (
                asyncio.run(_publish_to_site(row, tmp / "site"))
                if row.evaluation.get("passed") else None
            ),
        }  # fmt: skip
        (out / "training.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (out / "training.md").write_text(_markdown(result), encoding="utf-8")
        print(_markdown(result))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
