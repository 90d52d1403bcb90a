"""Query sets and benchmark annotation files of every broken shape, through ``mmrag eval``.

The corpus is generated: for our JSON Lines format, every required field missing and every field given a
value of each wrong JSON type, on each line position; for CIRR and CIRCO, every required key dropped
from an entry and the file's wrong shapes; for FashionIQ, folders that are and are not one. Each input
must end with exit 2 and a message naming the file, the line or entry and the key, before the encoder
loads; the stored collection stays as it was.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import shutil
from dataclasses import dataclass, field

import pytest

import mmrag_lab.encoders
from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.errors import EvaluationError
from mmrag_lab.evaluation.inputs.benchmarks import load_queries
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store

TRACEBACK = "Traceback (most recent call last)"
GOOD = {"id": "q", "image": "i0.jpg", "instruction": "make it red", "targets": ["i1.jpg"]}
WRONG_VALUES = {"list": [["x"]], "object": {"a": 1}, "number": 3.5, "bool": True, "null": None, "blank": " "}


@dataclass
class Case:
    """Files to write, the QUERIES argument, and the answer."""

    name: str
    files: dict[str, str | bytes]
    queries: str
    says: list[str]
    kind: str | None = None
    code: int = 2
    extra: list[str] = field(default_factory=list)


def lines(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def jsonl_cases() -> list[Case]:
    cases = [
        Case("empty", {"q.jsonl": ""}, "q.jsonl", ["query file", "q.jsonl", "is empty"]),
        Case("blank-lines", {"q.jsonl": "\n \n\n"}, "q.jsonl", ["q.jsonl", "is empty"]),
        Case(
            "latin-1",
            {"q.jsonl": lines(GOOD).encode() + '{"image": "é"}\n'.encode("latin-1")},
            "q.jsonl",
            ["line 2", "not UTF-8"],
        ),  # fmt: skip
        Case("repeated-id", {"q.jsonl": lines(GOOD, GOOD)}, "q.jsonl", ["repeated query id", "'q'"]),
        Case("unknown-extension", {"q.txt": lines(GOOD)}, "q.txt", ["Cannot tell", "--kind"]),
        Case(
            "nowhere",
            {"q.jsonl": lines({**GOOD, "image": "nowhere.jpg"})},
            "q.jsonl",
            ["None of the 1 queries", "'nowhere.jpg'"],
        ),  # fmt: skip
        Case(
            "targets-not-stored",
            {"q.jsonl": lines({**GOOD, "targets": ["gone.jpg"]}, {**GOOD, "id": "r"})},
            "q.jsonl",
            ["2 queries scored"],
            code=0,
        ),  # fmt: skip
    ]
    for position, broken in itertools.product((1, 2), ('{"image": "i0.jpg",', "[1, 2]", "42", "not json")):
        records = [GOOD, broken] if position == 2 else [broken, {**GOOD, "id": "r"}]
        says = "not valid JSON" if broken.startswith("{") or broken == "not json" else "not an object"
        cases.append(Case(f"line{position}-{broken[:6]}", {"q.jsonl": lines(*records)}, "q.jsonl",
                          [f"line {position}", says]))  # fmt: skip
    for key in ("image", "instruction", "targets"):
        cases.append(Case(f"missing-{key}", {"q.jsonl": lines({k: v for k, v in GOOD.items() if k != key})},
                          "q.jsonl", ["line 1", key]))  # fmt: skip
    for key, (label, value) in itertools.product(("image", "instruction", "targets", "subset", "id", "category"),
                                                 WRONG_VALUES.items()):  # fmt: skip
        if (key, label) in {("targets", "null")} or (key in ("subset", "id", "category") and label == "null"):
            continue  # an absent optional field; null targets are "empty", below
        if key in ("instruction",) and label == "blank":
            continue  # a blank instruction is a text (an image-only query)
        if key == "targets" and label == "blank":
            value = [" "]
        says = "is empty" if key == "targets" and value in ([], None) else repr(key)
        cases.append(Case(f"{key}-{label}", {"q.jsonl": lines({**GOOD, key: value})}, "q.jsonl",
                          ["line 1", says]))  # fmt: skip
    cases.append(Case("targets-empty", {"q.jsonl": lines({**GOOD, "targets": []})}, "q.jsonl", ["is empty"]))
    cases.append(Case("targets-null", {"q.jsonl": lines({**GOOD, "targets": None})}, "q.jsonl", ["is empty"]))
    return cases


CIRR = {"pairid": 1, "reference": "i0", "caption": "red", "target_hard": "i1", "img_set": {"members": ["i1"]}}
CIRCO = {"id": 1, "reference_img_id": 1, "relative_caption": "red", "target_img_id": 2, "gt_img_ids": [2]}


def benchmark_cases() -> list[Case]:
    cirr, circo = "cap.rc2.val.json", "val.json"
    cases = []
    for key in ("reference", "caption", "target_hard"):
        for index in (0, 1):
            data = [CIRR, CIRR] if index else [CIRR]
            data = [*data[:index], {k: v for k, v in CIRR.items() if k != key}]
            cases.append(Case(f"cirr-no-{key}-{index}", {cirr: json.dumps(data)}, cirr,
                              [cirr, f"entry {index}", repr(key)]))  # fmt: skip
    for key in ("reference_img_id", "relative_caption", "gt_img_ids"):
        data = [{k: v for k, v in CIRCO.items() if k != key}]
        cases.append(Case(f"circo-no-{key}", {circo: json.dumps(data)}, circo, [circo, "entry 0", repr(key)],
                          kind="circo"))  # fmt: skip
    for name, text, says in [
        ("empty", "", "is empty"),
        ("empty-list", "[]", "empty list"),
        ("object", '{"a": 1}', "expected a JSON list"),
        ("broken", "[{", "not valid JSON"),
        ("entry-not-object", "[1]", "entry 0 is a JSON int"),
    ]:
        cases.append(Case(f"cirr-{name}", {cirr: text}, cirr, [cirr, says]))
        cases.append(Case(f"circo-{name}", {circo: text}, circo, [circo, says], kind="circo"))
    cases += [
        Case(
            "cirr-members",
            {cirr: json.dumps([{**CIRR, "img_set": {"members": 3}}])},
            cirr,
            ["entry 0", "img_set"],
        ),
        Case(
            "circo-bad-id",
            {circo: json.dumps([{**CIRCO, "reference_img_id": "abc"}])},
            circo,
            ["entry 0", "'reference_img_id'", "'abc'"],
            kind="circo",
        ),  # fmt: skip
        Case(
            "circo-truth-not-list",
            {circo: json.dumps([{**CIRCO, "gt_img_ids": 2}])},
            circo,
            ["entry 0", "gt_img_ids"],
            kind="circo",
        ),  # fmt: skip
        Case(
            "circo-guessed-by-keys",
            {circo: json.dumps([{**CIRCO, "reference_img_id": "x"}])},
            circo,
            ["entry 0", "'reference_img_id'"],
        ),  # fmt: skip
        Case(
            "json-of-nothing-known", {"a.json": json.dumps([{"x": 1}])}, "a.json", ["neither CIRR", "--kind"]
        ),
        Case(
            "fiq-no-candidate",
            {"captions/cap.dress.val.json": json.dumps([{"target": "i1"}])},
            "captions",
            ["cap.dress.val.json", "entry 0", "'candidate'"],
            extra=["--category", "dress"],
        ),  # fmt: skip
        Case(
            "fiq-all-empty",
            {"captions/cap.dress.val.json": "[]"},
            "captions",
            ["hold no entries"],
            extra=["--category", "dress"],
        ),  # fmt: skip
        Case(
            "fiq-category-missing",
            {"captions/cap.dress.val.json": "[]"},
            "captions",
            ["cap.shirt.val.json", "does not exist"],
        ),  # fmt: skip
        Case(
            "folder-of-classes", {"classes/hats/a.txt": "x"}, "classes", ["not FashionIQ", "--kind folders"]
        ),
        Case("empty-folder", {"nothing/.keep": ""}, "nothing", ["Cannot tell", "--kind", "folders"]),
        Case(
            "folders-without-classes",
            {"flat/a.txt": "x"},
            "flat",
            ["no subfolder with two or more images"],
            kind="folders",
        ),  # fmt: skip
        Case("not-there", {}, "absent.jsonl", ["absent.jsonl", "does not exist"]),
    ]
    return cases


CASES = jsonl_cases() + benchmark_cases()


@pytest.fixture(scope="module")
def collection(tmp_path_factory, sample_dir, tiny_encoder):
    root = tmp_path_factory.mktemp("evalset")
    folder = root / "photos"
    folder.mkdir()
    for i, source in enumerate(sorted(sample_dir.rglob("*.jpg"))[:6]):
        shutil.copy(source, folder / f"i{i}.jpg")
    cfg = Config.load(env={}, milvus_uri=str(root / "e.db"), collection="evalset", encoder="tiny",
                      weights="untrained", device="cpu")  # fmt: skip
    ingest(folder, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    return cfg


def snapshot(cfg: Config) -> tuple[int, list]:
    with Store.open(cfg) as store:
        rows = sorted(store.iterate(("path", "content_hash")), key=lambda row: row["path"])
        return store.count(), rows[:3]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_mmrag_eval_names_each_broken_query_set_before_loading_the_encoder(
    collection, tmp_path, monkeypatch, case
):
    for rel, content in case.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode()
        (tmp_path / rel).write_bytes(data)
    loads = []
    real = mmrag_lab.encoders.load_encoder
    monkeypatch.setattr(
        mmrag_lab.encoders, "load_encoder", lambda *a, **kw: loads.append(1) or real(*a, **kw)
    )
    before = snapshot(collection)
    args = ["eval", str(tmp_path / case.queries), "--uri", collection.milvus_uri, "--collection", "evalset",
            "--encoder", "tiny", "--weights", "untrained", "--device", "cpu", "--no-progress",
            "--out", str(tmp_path / "run"), *(["--kind", case.kind] if case.kind else []), *case.extra]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    text = out.getvalue() + err.getvalue()
    assert TRACEBACK not in text
    assert code == case.code, text
    assert all(part in text for part in case.says), text
    if code == 2:
        assert loads == [], "the encoder loaded before the mistake was found"
        assert text.count("\n") <= 2, text  # one readable line
    assert snapshot(collection) == before


def test_an_unknown_kind_lists_the_known_ones(tmp_path):
    (tmp_path / "q.jsonl").write_text(json.dumps(GOOD) + "\n")
    with pytest.raises(EvaluationError, match="jsonl, cirr, fashioniq, circo, folders"):
        load_queries(tmp_path / "q.jsonl", kind="coco")
