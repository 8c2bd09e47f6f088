"""Train the Rasa model only when the project changed: the model file is named by a content hash.

Run as `python -m dialogs.train` to (re)build `dialogs/models/<hash>.tar.gz`.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from dialogs.errors import TrainingFailed
from dialogs.lifeline import die_with_parent

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parent
RASA_BIN = PROJECT_DIR.parent / ".venv-rasa" / "bin" / "rasa"
# Files that change what `rasa train` produces; tests/, actions/ and models/ do not.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data")


def rasa_env() -> dict[str, str]:
    """Environment for every Rasa subprocess: no telemetry, quiet TensorFlow, and nothing of
    the app's own configuration (data keys, tokens): Rasa is given what it needs explicitly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINICLINE_")}
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def project_hash(project_dir: Path) -> str:
    """Hash of the training inputs (paths and bytes), stable across machines."""
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        root = project_dir / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            digest.update(path.relative_to(project_dir).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# A draft differs from the shipped phrasings by a few examples, lookups and synonyms (same config,
# same domain): it is fine-tuned from the shipped model for this share of the epochs rather than
# trained from nothing. Measured here (2 cores): a one-phrasing draft took 135-158 s this way
# against 666 s in full, and understood 240-241 of 249 held-out phrasings (241 in full, the
# shipped model 239). The vocabulary keeps room for new words, and the publish gate judges every
# draft however it was trained.
FINETUNE_EPOCH_FRACTION = 0.2

# What `rasa train` prints that tells how far it is: the component starting, and tqdm's bars.
_COMPONENT = re.compile(r"Starting to train component '(\w+)'")
_PERCENT = re.compile(r"Epochs:\s+(\d+)%")
Progress = Callable[[str, int | None], None]


def model_path(project_dir: Path, models_dir: Path) -> Path:
    """Where the model for the project's current content is (or will be) kept."""
    return models_dir / f"clinicline-{project_hash(project_dir)}.tar.gz"


def ensure_model(
    project_dir: Path = PROJECT_DIR,
    models_dir: Path | None = None,
    progress: Progress | None = None,
    finetune_from: Path | None = None,
    epoch_fraction: float = FINETUNE_EPOCH_FRACTION,
) -> Path:
    """Return the model for the project's current content, training it first if missing:
    fine-tuned from FINETUNE_FROM (a model of the same config and domain) for `epoch_fraction`
    of the epochs where given, in full where there is none or Rasa refuses to fine-tune it.

    Several processes may ask at once (`serve --workers N`, test workers): one trains while
    the others wait on a lock, then find the model. Training writes into a folder of its own
    and the finished file is moved into place in one step, so nobody loads half a model.
    """
    models_dir = models_dir or project_dir / "models"
    model = model_path(project_dir, models_dir)
    name = model.name.removesuffix(".tar.gz")
    if model.exists():
        return model
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".training.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if model.exists():
            return model
        if finetune_from is not None and finetune_from.exists():
            try:
                _train(project_dir, models_dir, name, progress, finetune_from, epoch_fraction)
                return model
            except TrainingFailed:  # e.g. an intent the base model lacks
                # (Rasa's output may quote the phrasings: not logged.)
                log.warning("dialog model %s could not be fine-tuned; training it in full", name)
        _train(project_dir, models_dir, name, progress)
    return model


def _train(
    project_dir: Path,
    models_dir: Path,
    name: str,
    progress: Progress | None,
    finetune_from: Path | None = None,
    epoch_fraction: float = FINETUNE_EPOCH_FRACTION,
) -> None:
    how = f"fine-tuning from {finetune_from.name}" if finetune_from else "in full"
    log.info("training dialog model %s (%s)", name, how)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".training-") as out:
        cmd = [
            str(RASA_BIN), "train",
            "--config", str(project_dir / "config.yml"),
            "--domain", str(project_dir / "domain.yml"),
            "--data", str(project_dir / "data"),
            "--out", out,
            "--fixed-model-name", name,
        ]  # fmt: skip
        if finetune_from is not None:
            cmd += ["--finetune", str(finetune_from)]
            cmd += ["--epoch-fraction", str(epoch_fraction)]
        output, returncode = _run_reporting(cmd, project_dir, progress)
        trained = Path(out) / f"{name}.tar.gz"
        if returncode != 0 or not trained.exists():
            raise TrainingFailed(f"rasa train exited {returncode}: {output[-2000:]}")
        os.replace(trained, models_dir / f"{name}.tar.gz")


def _run_reporting(cmd: list[str], cwd: Path, progress: Progress | None) -> tuple[str, int]:
    """Run CMD, telling PROGRESS which component trains and how far (tqdm redraws its bar with
    carriage returns, so the output is read in pieces, not lines). (its output, exit code)"""
    with subprocess.Popen(
        cmd, cwd=cwd, env=rasa_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
    ) as child:  # fmt: skip
        assert child.stdout is not None
        output, component = "", ""
        while piece := child.stdout.read1(4096).decode("utf-8", "replace"):  # type: ignore[attr-defined]
            output = (output + piece)[-20000:]
            if progress is None:
                continue
            if names := _COMPONENT.findall(piece):
                component = names[-1]
                progress(component, None)
            if component and (percents := _PERCENT.findall(piece)):
                progress(component, int(percents[-1]))
        return output, child.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(ensure_model())
    sys.exit(0)
