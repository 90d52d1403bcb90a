"""The smoke-test query set of a folder of class subfolders: hidden folders and files are no class, no image."""

from __future__ import annotations

import pytest
from PIL import Image

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.folders import folder_queries


def _jpeg(path, color) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), color).save(path, "JPEG")


def test_hidden_folders_and_files_are_left_out(tmp_path):
    for name in ("a.jpg", "b.jpg", ".c.jpg", ".ipynb_checkpoints/a-checkpoint.jpg"):
        _jpeg(tmp_path / "dress" / name, "red")
    for name in ("x.jpg", "y.jpg"):
        _jpeg(tmp_path / ".ipynb_checkpoints" / name, "blue")
    _jpeg(tmp_path / "loose.jpg", "green")
    (query,) = folder_queries(tmp_path, per_class=5)
    root = tmp_path.resolve()
    assert query.category == "dress" and query.image == str(root / "dress" / "a.jpg")
    assert query.targets == (str(root / "dress" / "b.jpg"),)


def test_a_folder_of_hidden_classes_only_has_nothing_to_query(tmp_path):
    for name in ("x.jpg", "y.jpg"):
        _jpeg(tmp_path / ".ipynb_checkpoints" / name, "blue")
    with pytest.raises(EvaluationError, match="no subfolder with two or more images"):
        folder_queries(tmp_path)
