"""The model is retrained only when the training inputs change."""

import shutil
from pathlib import Path

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
