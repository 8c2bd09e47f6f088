"""The model is retrained only when the training inputs change."""

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dialogs import train
from dialogs.errors import TrainingFailed
from dialogs.train import PROJECT_DIR, ensure_model, project_hash


def _copy_project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    target.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_DIR / name, target / name)
    shutil.copytree(PROJECT_DIR / "data", target / "data")
    return target


def test_hash_ignores_actions_and_tests_but_follows_data(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    before = project_hash(project)
    (project / "tests").mkdir()
    (project / "tests" / "x.yml").write_text("stories: []\n")
    assert project_hash(project) == before
    with (project / "data" / "nlu_conversation.yml").open("a") as f:
        f.write("    - hey hey\n")
    assert project_hash(project) != before


def test_existing_model_for_the_same_content_is_reused(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    cached = models / f"clinicline-{project_hash(project)}.tar.gz"
    cached.write_bytes(b"model")
    assert ensure_model(project, models) == cached


def test_processes_asking_at_once_train_once_and_never_see_half_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for `rasa train` (minutes on this machine): it counts its runs, writes the
    # model slowly into the --out folder it was given, and that folder is not the models one.
    runs = tmp_path / "runs"
    trainer = tmp_path / "rasa"
    trainer.write_text(
        "#!/bin/sh\n"
        f'echo run >> "{runs}"\n'
        'while [ "$1" != "--out" ]; do shift; done; out="$2"\n'
        'while [ "$1" != "--fixed-model-name" ]; do shift; done; name="$2"\n'
        'printf half > "$out/$name.tar.gz"; sleep 1; printf ", whole" >> "$out/$name.tar.gz"\n'
    )
    trainer.chmod(0o755)
    monkeypatch.setattr(train, "RASA_BIN", trainer)
    project, models = _copy_project(tmp_path), tmp_path / "models"
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: ensure_model(project, models), range(3)))
    assert len(set(paths)) == 1 and paths[0].read_text() == "half, whole"
    assert runs.read_text().count("run") == 1
    assert [p.name for p in models.iterdir() if not p.name.startswith(".training.lock")] == [
        paths[0].name
    ]


def test_a_failed_training_leaves_no_model_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = tmp_path / "rasa"
    trainer.write_text("#!/bin/sh\necho 'no data' >&2\nexit 1\n")
    trainer.chmod(0o755)
    monkeypatch.setattr(train, "RASA_BIN", trainer)
    project, models = _copy_project(tmp_path), tmp_path / "models"
    with pytest.raises(TrainingFailed, match="no data"):
        ensure_model(project, models)
    assert not list(models.glob("*.tar.gz"))


def _recording_trainer(tmp_path: Path, refuse_finetune: bool) -> tuple[Path, Path]:
    """A stand-in for `rasa train` that records its arguments, one run per line, and writes the
    model; it exits 1 on `--finetune` when told to (as Rasa does for a base it cannot extend)."""
    runs, trainer = tmp_path / "runs", tmp_path / "rasa"
    refuse = 'case "$*" in *--finetune*) exit 1;; esac\n' if refuse_finetune else ""
    trainer.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{runs}"\n'
        + refuse
        + 'while [ "$1" != "--out" ]; do shift; done; out="$2"\n'
        'while [ "$1" != "--fixed-model-name" ]; do shift; done; name="$2"\n'
        'printf model > "$out/$name.tar.gz"\n'
    )
    trainer.chmod(0o755)
    return trainer, runs


@pytest.mark.parametrize("refused", [False, True], ids=["fine-tuned", "refused-then-full"])
def test_a_draft_is_fine_tuned_from_the_base_model_or_trained_in_full_stand_in_for_rasa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    trainer, runs = _recording_trainer(tmp_path, refuse_finetune=refused)
    monkeypatch.setattr(train, "RASA_BIN", trainer)
    project, models = _copy_project(tmp_path), tmp_path / "models"
    base = tmp_path / "shipped.tar.gz"
    base.write_bytes(b"base")
    model = ensure_model(project, models, finetune_from=base)
    assert model.read_text() == "model"
    lines = runs.read_text().splitlines()
    assert f"--finetune {base} --epoch-fraction {train.FINETUNE_EPOCH_FRACTION}" in lines[0]
    if refused:
        assert len(lines) == 2 and "--finetune" not in lines[1]
    else:
        assert len(lines) == 1
    # No base model there: trained in full at once.
    with (project / "data" / "nlu_conversation.yml").open("a") as f:
        f.write("    - hey hey\n")
    runs.unlink()
    ensure_model(project, models, finetune_from=tmp_path / "missing.tar.gz")
    assert "--finetune" not in runs.read_text()
