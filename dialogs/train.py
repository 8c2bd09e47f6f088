"""Train the Rasa model only when the project changed: the model file is named by a content hash.

Run as `python -m dialogs.train` to (re)build `dialogs/models/<hash>.tar.gz`.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
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


def ensure_model(project_dir: Path = PROJECT_DIR, models_dir: Path | None = None) -> Path:
    """Return the model for the project's current content, training it first if missing.

    Several processes may ask at once (`serve --workers N`, test workers): one trains while
    the others wait on a lock, then find the model. Training writes into a folder of its own
    and the finished file is moved into place in one step, so nobody loads half a model.
    """
    models_dir = models_dir or project_dir / "models"
    name = f"clinicline-{project_hash(project_dir)}"
    model = models_dir / f"{name}.tar.gz"
    if model.exists():
        return model
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".training.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not model.exists():
            _train(project_dir, models_dir, name)
    return model


def _train(project_dir: Path, models_dir: Path, name: str) -> None:
    log.info("training dialog model %s", name)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".training-") as out:
        cmd = [
            str(RASA_BIN), "train",
            "--config", str(project_dir / "config.yml"),
            "--domain", str(project_dir / "domain.yml"),
            "--data", str(project_dir / "data"),
            "--out", out,
            "--fixed-model-name", name,
        ]  # fmt: skip
        done = subprocess.run(
            cmd, cwd=project_dir, env=rasa_env(), capture_output=True, text=True, check=False,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        trained = Path(out) / f"{name}.tar.gz"
        if done.returncode != 0 or not trained.exists():
            raise TrainingFailed(f"rasa train exited {done.returncode}: {done.stderr[-2000:]}")
        os.replace(trained, models_dir / f"{name}.tar.gz")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(ensure_model())
    sys.exit(0)
