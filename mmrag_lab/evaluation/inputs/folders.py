"""A query set from any folder of class subfolders: find other pictures of the same class.

For each class folder, the first ``per_class`` images (by name) become queries: the image plus an
instruction naming the class (``"a dress"``), with every other image of that class as a target. This is
an easy, label-only task, useful as a smoke test of a collection and to compare encoders on your own data
before a benchmark is at hand; it is not a composed-retrieval benchmark.
"""

from __future__ import annotations

from pathlib import Path

from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.ingestion.scan import list_images


def folder_queries(images_dir: str | Path, *, per_class: int = 1, template: str = "a {label}") -> list[Query]:
    """Queries from ``images_dir/<class>/<image>`` (see the module docstring).

    Args:
        images_dir: Folder whose subfolders are classes.
        per_class: Query images taken from each class (classes with fewer than two images are skipped).
        template: Instruction, with ``{label}`` replaced by the class folder's name.

    Raises:
        EvaluationError: The folder holds no class with at least two images.
    """
    root = Path(images_dir)
    if not root.is_dir():
        raise EvaluationError(f"{root} is not a folder; pass a folder of class subfolders of images.")
    classes: dict[str, list[str]] = {}
    for path in list_images(root):
        parts = path.relative_to(root).parts
        if len(parts) > 1:  # an image directly in images_dir belongs to no class
            classes.setdefault(parts[0], []).append(str(path.resolve()))
    queries = []
    for label, files in sorted(classes.items()):
        files.sort()
        for i, image in enumerate(files[: min(per_class, len(files) - 1)]):
            targets = tuple(f for f in files if f != image)
            queries.append(
                Query(f"{label}-{i}", image, template.format(label=label), targets, category=label)
            )
    if not queries:
        raise EvaluationError(f"{root} has no subfolder with two or more images; nothing to query.")
    return queries
