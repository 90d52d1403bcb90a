"""Sidecars of every shape, through ``load_sidecar`` and through ``mmrag ingest --metadata``.

The corpus is generated: shape builders (broken lines, oversized cells and rows, key columns missing or
misnamed, duplicate keys, keys leaving the folder, files not in the folder, values Milvus cannot store)
times the encodings people's tools write. Every input ends in a defined answer: exit 2 with a message
naming the file and line, or exit 0 with each bad line named in the report. A shared collection is checked
after each run: the same rows with the same metadata, since no case changes a stored value.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field

import pytest

from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError, StoreError
from mmrag_lab.ingestion.sidecar import META_LIMIT, load_sidecar
from mmrag_lab.store.vector_store import Store

FILES = [f"{folder}/{folder[0]}{i}.jpg" for folder in ("shoes", "hats") for i in range(3)]
META = {rel: {"category": rel.split("/")[0], "title": f"Café n°{i}"} for i, rel in enumerate(FILES)}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1", "utf-32"]
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Case:
    """One generated sidecar and the answer it must get."""

    name: str
    suffix: str
    text: str
    code: int  # 2: refused as a whole; 0: ran, with ``lines`` named as left out
    says: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)


def csv_text(rows: list[list[str]], header: str = "file,category,title") -> str:
    return "\n".join([header, *(",".join(row) for row in rows)]) + "\n"


def base_rows() -> list[list[str]]:
    return [[rel, meta["category"], meta["title"]] for rel, meta in META.items()]


def jsonl_text(objects: list) -> str:
    return "\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objects) + "\n"


def base_objects() -> list[dict]:
    return [{"file": rel, **meta} for rel, meta in META.items()]


def with_row(rows: list, index: int, row) -> list:
    """``rows`` with ``row`` put in at ``index`` (0 = the first data line, which is line 2 of a CSV)."""
    return [*rows[:index], row, *rows[index:]]


def csv_cases() -> list[Case]:
    rows = base_rows()
    big = ["shoes/s0.jpg", "shoes", "x" * 200_000]
    wide_header = "file,category,title," + ",".join(f"c{i}" for i in range(20))
    wide = [[*row, *(["y" * 4_000] * 20 if i == 1 else [""] * 20)] for i, row in enumerate(rows)]
    cases = [
        Case("valid", ".csv", csv_text(rows), 0),
        Case("tsv", ".tsv", csv_text([r for r in rows], "file\tcategory\ttitle").replace(",", "\t"), 0),
        Case("blank-lines", ".csv", csv_text(rows).replace("\n", "\n\n", 3), 0),
        Case("field-200k", ".csv", csv_text([big, *rows[1:]]), 0, ["65,536", "title"], [2]),
        Case("row-over-limit", ".csv", csv_text(wide, wide_header), 0, ["65,536"], [3]),
        Case(
            "extra-values",
            ".csv",
            csv_text(with_row(rows, 2, ["hats/h9.jpg", "hats", "a", "b"])),
            0,
            ["4 values", "3 columns"],
            [4],
        ),  # fmt: skip
        Case(
            "open-quote",
            ".csv",
            csv_text(with_row(rows, 3, ["hats/h0.jpg", "hats", '"never closed'])),
            2,
            ["line 5:", "quote"],
        ),  # fmt: skip
        Case(
            "no-key-column",
            ".csv",
            csv_text(rows, "picture,category,title"),
            2,
            ["no file-name column", "'picture'", "file, filename"],
        ),  # fmt: skip
        Case("key-column-spelled-loosely", ".csv", csv_text(rows, " File Name ,category,title"), 0),
        Case(
            "duplicate-same",
            ".csv",
            csv_text(with_row(rows, 6, rows[0])),
            0,
            ["listed 2 times", "line 2", "line 8", "used once"],
            [2],
        ),  # fmt: skip
        Case(
            "duplicate-different",
            ".csv",
            csv_text(with_row(rows, 6, [FILES[0], "shoes", "Other"])),
            0,
            ["listed 2 times", "line 2", "line 8", "none is used"],
            [2],
        ),  # fmt: skip
        Case(
            "not-in-folder",
            ".csv",
            csv_text(with_row(rows, 1, ["shoes/missing.jpg", "shoes", "x"])),
            0,
            ["no such image", "line 3", "shoes/missing.jpg"],
            unmatched=[3],
        ),  # fmt: skip
        Case("header-only", ".csv", "file,category,title\n", 2, ["header but no rows"]),
        Case("empty", ".csv", "", 2, ["is empty"]),
        Case("whitespace-only", ".csv", " \n\n", 2, ["is empty"]),
        Case("repeated-header", ".csv", csv_text(rows, "file,title,title"), 2, ["repeats 'title'"]),
        Case("empty-key", ".csv", csv_text(with_row(rows, 0, ["", "hats", "x"])), 0, ["no file name"], [2]),
        Case(
            "nul-in-cell",
            ".csv",
            csv_text(with_row(rows, 0, ["hats/h9.jpg", "ha\x00ts", "x"])),
            0,
            ["no such image", "line 2"],
            unmatched=[2],
        ),  # a NUL is stored as it is, on Lite and the server
        Case(
            "nameless-column",
            ".csv",
            csv_text(with_row(rows, 0, ["hats/h9.jpg", "hats", "t", "v"]), "file,category,title,"),
            0,
            ["without a name"],
            [2],
        ),  # fmt: skip
    ]
    for n, hostile in enumerate(["../x.jpg", "/etc/passwd", "C:\\\\img\\\\x.jpg", "shoes/../../x.jpg", "."]):
        reason = "names the folder" if hostile == "." else "absolute" if hostile[0] in "/C" else "leaves"
        cases.append(Case(f"escaping-key-{n}", ".csv", csv_text(with_row(rows, 0, [hostile, "x", "y"])), 0,
                          [reason], [2]))  # fmt: skip
    return cases


def json_cases() -> list[Case]:
    objects = base_objects()
    cases = [
        Case("jsonl-valid", ".jsonl", jsonl_text(objects), 0),
        Case("json-array", ".json", json.dumps(objects, ensure_ascii=False, indent=2), 0),
        Case(
            "jsonl-broken-line",
            ".jsonl",
            jsonl_text(with_row(objects, 2, '{"file": "hats/h0.jpg",')),
            0,
            ["not valid JSON", "line 3"],
            [3],
        ),  # fmt: skip
        Case(
            "jsonl-not-object",
            ".jsonl",
            jsonl_text(with_row(objects, 0, "[1, 2]")),
            0,
            ["not an object"],
            [1],
        ),
        Case(
            "jsonl-nan",
            ".jsonl",
            jsonl_text(with_row(objects, 0, '{"file": "hats/h9.jpg", "w": NaN}')),
            0,
            ["NaN"],
            [1],
        ),  # fmt: skip
        Case(
            "jsonl-infinity",
            ".jsonl",
            jsonl_text(with_row(objects, 1, '{"file": "x.jpg", "w": -Infinity}')),
            0,
            ["Infinity"],
            [2],
        ),  # fmt: skip
        Case(
            "jsonl-overflow-float",
            ".jsonl",
            jsonl_text(with_row(objects, 0, '{"file": "x.jpg", "w": 1e999}')),
            0,
            ["finite"],
            [1],
        ),  # fmt: skip
        Case(
            "jsonl-huge-int",
            ".jsonl",
            jsonl_text(with_row(objects, 0, {"file": "x.jpg", "w": 2**70})),
            0,
            ["64-bit"],
            [1],
        ),  # fmt: skip
        Case(
            "jsonl-nested-object",
            ".jsonl",
            jsonl_text(with_row(objects, 0, {"file": "x.jpg", "w": {"a": 1}})),
            0,
            ["JSON dict"],
            [1],
        ),  # fmt: skip
        Case(
            "jsonl-nested-list",
            ".jsonl",
            jsonl_text(with_row(objects, 0, {"file": "x.jpg", "w": [[1]]})),
            0,
            ["list inside a list"],
            [1],
        ),  # fmt: skip
        Case(
            "jsonl-mixed-column",
            ".jsonl",
            jsonl_text([*objects, {"file": "x.jpg", "tags": ["a"]}, {"file": "y.jpg", "tags": "b"}]),
            0,
            ["'tags'"],
            [7],
            [8],
        ),  # fmt: skip
        Case(
            "jsonl-null-key",
            ".jsonl",
            jsonl_text(with_row(objects, 0, {"file": None, "w": 1})),
            0,
            ["no file name"],
            [1],
        ),  # fmt: skip
        Case(
            "jsonl-oversized",
            ".jsonl",
            jsonl_text(with_row(objects, 0, {"file": FILES[1], "t": "z" * 70_000})),
            0,
            ["65,536"],
            [1],
        ),  # fmt: skip
        Case("jsonl-all-broken", ".jsonl", "{\n}\n", 0, ["not valid JSON"], [1, 2]),
        Case("json-empty-array", ".json", "[]", 2, ["no rows"]),
        Case("json-broken-array", ".json", '[{"file": "a.jpg"},', 2, ["not a valid JSON array"]),
    ]
    return cases


CASES = csv_cases() + json_cases()
# every shape in every encoding it can be written in, through the loader
LOADS = [(case, enc) for case in CASES for enc in ENCODINGS]


READ_AS = {"utf-8-sig": "utf-8", "latin-1": "cp1252"}


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding)  # utf-8-sig, utf-16 and utf-32 write their byte-order mark


def write_case(folder, case: Case, encoding: str):
    path = folder / f"{case.name}-{encoding}{case.suffix}"
    path.write_bytes(encode(case.text, encoding))
    return path


def lines_of(items: list[dict]) -> list[int]:
    return sorted(item.get("line", item.get("entry", 0)) for item in items)


@pytest.mark.parametrize("case, encoding", LOADS, ids=[f"{c.name}-{e}" for c, e in LOADS])
def test_every_shape_in_every_encoding_gets_a_defined_answer(tmp_path, case, encoding):
    path = write_case(tmp_path, case, encoding)
    if case.code == 2:
        with pytest.raises(ConfigError) as caught:
            load_sidecar(path)
        message = str(caught.value)
        assert str(path) in message and all(part in message for part in case.says), message
        return
    sidecar = load_sidecar(path)
    assert lines_of(sidecar.problems) == case.lines, sidecar.problems
    plain = case.text.isascii() and encoding in ("cp1252", "latin-1", "utf-8")
    assert sidecar.encoding == ("utf-8" if plain else READ_AS.get(encoding, encoding))
    for rel, meta in META.items():  # every line that can be used keeps its exact values
        if rel in sidecar.entries:
            assert sidecar.lookup(rel) == meta
    bad_first = case.name in ("duplicate-different", "field-200k")
    assert (FILES[0] in sidecar.entries) == (not bad_first and case.name != "jsonl-all-broken")


def test_a_file_in_no_encoding_we_can_tell_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_bytes(csv_text(base_rows()).encode("cp1252") + b"hats/h9.jpg,hats,\x81\x8d\n")
    with pytest.raises(ConfigError, match=r"line 8: byte 0x81 .* Save the file as UTF-8"):
        load_sidecar(path)


def test_unknown_suffixes_and_missing_files_are_refused(tmp_path):
    for name in ("meta.xlsx", "meta.txt", "meta"):
        (tmp_path / name).write_text(csv_text(base_rows()))
        with pytest.raises(ConfigError, match="use a CSV"):
            load_sidecar(tmp_path / name)
    with pytest.raises(ConfigError, match="does not exist"):
        load_sidecar(tmp_path)


# ---- through the CLI, against one stored collection ----


@pytest.fixture(scope="module")
def shared(tmp_path_factory, sample_dir):
    """Six real JPEGs ingested with the baseline metadata into one Lite file."""
    root = tmp_path_factory.mktemp("sidecars")
    folder = root / "photos"
    sources = sorted(sample_dir.rglob("*.jpg"))
    for rel, source in zip(FILES, sources, strict=False):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / rel)
    uri = str(root / "lite.db")
    baseline = root / "baseline.csv"
    baseline.write_text(csv_text(base_rows()), encoding="utf-8")
    assert run_cli(uri, folder, baseline, root / "r.json")[0] == 0
    return uri, folder, root


def run_cli(uri, folder, sidecar, report, *extra: str) -> tuple[int, str, dict]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["ingest", str(folder), "--uri", uri, "--collection", "sidecars", "--encoder", "tiny",
                     "--weights", "untrained", "--device", "cpu", "--workers", "0", "--no-progress",
                     "--metadata", str(sidecar), "--report", str(report), *extra])  # fmt: skip
    text = out.getvalue() + err.getvalue()
    assert TRACEBACK not in text
    return code, text, json.loads(report.read_text()) if code == 0 else {}


def stored(uri: str) -> dict[str, dict]:
    cfg = Config.load(env={}, milvus_uri=uri, collection="sidecars", encoder="tiny", weights="untrained")
    with Store.open(cfg) as store:
        return {row["rel_path"]: row["meta"] for row in store.iterate(("rel_path", "meta"))}


CLI_CASES = [(case, ENCODINGS[i % len(ENCODINGS)]) for i, case in enumerate(CASES)]


@pytest.mark.parametrize("case, encoding", CLI_CASES, ids=[f"{c.name}-{e}" for c, e in CLI_CASES])
def test_mmrag_ingest_answers_every_sidecar_and_keeps_what_is_stored(shared, tmp_path, case, encoding):
    uri, folder, _ = shared
    before = stored(uri)
    assert before == META
    code, text, report = run_cli(uri, folder, write_case(tmp_path, case, encoding), tmp_path / "r.json")
    assert code == case.code, text
    assert all(part in text for part in case.says), text
    if code == 0:
        assert lines_of(report["metadata_problems"]) == case.lines
        assert lines_of(report["metadata_unmatched"]) == case.unmatched
        assert (report["added"], report["updated"], report["metadata_updated"]) == (0, 0, 0)
        assert report["unchanged"] == len(FILES)
    assert stored(uri) == before


def test_a_cp1252_sidecar_is_read_and_says_so(shared, tmp_path):
    uri, folder, _ = shared
    path = tmp_path / "meta.csv"
    path.write_bytes(csv_text(base_rows()).encode("cp1252"))
    code, text, report = run_cli(uri, folder, path, tmp_path / "r.json")
    assert code == 0 and report["metadata"]["encoding"] == "cp1252" and "(cp1252)" in text
    assert stored(uri) == META


# ---- a sidecar that lists some of the files ----


@pytest.fixture()
def own(tmp_path, sample_dir):
    folder = tmp_path / "photos"
    for rel, source in zip(FILES, sorted(sample_dir.rglob("*.jpg")), strict=False):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / rel)
    uri = str(tmp_path / "own.db")
    baseline = tmp_path / "baseline.csv"
    baseline.write_text(csv_text(base_rows()), encoding="utf-8")
    assert run_cli(uri, folder, baseline, tmp_path / "r0.json")[0] == 0
    return uri, folder


def test_a_partial_sidecar_updates_its_rows_and_keeps_the_others(own, tmp_path):
    uri, folder = own
    partial = tmp_path / "one.csv"
    partial.write_text(csv_text([[FILES[2], "shoes", "Renamed"]]), encoding="utf-8")
    code, text, report = run_cli(uri, folder, partial, tmp_path / "r1.json")
    assert code == 0
    assert (report["updated"], report["metadata_updated"], report["unchanged"], report["added"]) == (
        1,
        1,
        5,
        0,
    )
    assert "1 updated (1 metadata)" in text
    expected = {**META, FILES[2]: {"category": "shoes", "title": "Renamed"}}
    assert stored(uri) == expected
    code, text, report = run_cli(uri, folder, partial, tmp_path / "r2.json", "--replace-metadata")
    assert code == 0 and report["metadata_updated"] == 5
    assert stored(uri) == {rel: (expected[rel] if rel == FILES[2] else {}) for rel in FILES}


def test_replace_metadata_needs_a_sidecar_and_is_in_the_help(own, tmp_path, capsys):
    uri, folder = own
    code = main(["ingest", str(folder), "--uri", uri, "--collection", "sidecars", "--encoder", "tiny",
                 "--weights", "untrained", "--device", "cpu", "--replace-metadata"])  # fmt: skip
    assert code == 2 and "--replace-metadata needs --metadata" in capsys.readouterr().err
    assert stored(uri) == META
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    assert "--replace-metadata" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["lite", pytest.param("server", marks=pytest.mark.server)])
def test_the_limit_is_what_the_server_stores(kind, tmp_path, request):
    """Metadata at the limit is stored whole; one byte over, the 2.3.5 server refuses it (Lite would not)."""
    from mmrag_lab.encoders.base import EncoderInfo
    from mmrag_lab.ingestion.sidecar_values import check_meta

    uri = str(tmp_path / "l.db") if kind == "lite" else request.getfixturevalue("milvus_server").uri
    cfg = Config.load(env={}, milvus_uri=uri, collection=f"limit_{kind}", encoder="tiny", weights="untrained")
    text = "é" * ((META_LIMIT - len('{"t":""}')) // 2)
    over = {"t": text + "xx"}
    assert check_meta({"t": text}, META_LIMIT) is None and "65,536" in check_meta(over, META_LIMIT)
    row = {"id": "0" * 64, "vector": [0.5] * 4, "path": "/p", "root": "r", "rel_path": "p",
           "content_hash": "0" * 64, "width": 1, "height": 1, "file_size": 1}  # fmt: skip
    with Store.open(cfg) as store:
        store.ensure_collection(
            EncoderInfo(name="tiny", dim=4, untrained=True, weights="untrained", fingerprint="x")
        )
        try:
            store.insert([{**row, "meta": {"t": text}}])
            assert store.get([row["id"]], output_fields=["meta"])[0]["meta"]["t"] == text
            if kind == "server":
                with pytest.raises(StoreError, match="exceeds max length"):
                    store.insert([{**row, "meta": over}])
        finally:
            store.drop()
