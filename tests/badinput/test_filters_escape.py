"""Path filters against stored paths holding every character special to Milvus, on Lite and the server.

The corpus is generated: each special character at the start, middle and end of a name, each stored beside
two decoys that a wildcard reading would also match (the character replaced by ``z`` and by ``zz``). Every
filter must return exactly the row holding the character, or refuse with a reason.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import uuid

import numpy as np
import pytest
from PIL import Image

from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.encoders.base import EncoderInfo
from mmrag_lab.errors import QueryError
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.filters import build_filter
from mmrag_lab.store.vector_store import Store

SPECIALS = ["\\", "%", "_", '"', "'", " ", "☃", "\t"]
POSITIONS = ["start", "middle", "end"]
INFO = EncoderInfo(name="tiny", dim=8, untrained=True, weights="untrained", fingerprint="f00d")


def core(index: int, char: str, position: str) -> str:
    tag = f"c{index:02d}"
    return {"start": f"{char}{tag}x", "middle": f"{tag}{char}x", "end": f"{tag}x{char}"}[position]


CASES = [(i, c, p) for i, (c, p) in enumerate(itertools.product(SPECIALS, POSITIONS))]


def _row(path: str, vector: np.ndarray) -> dict:
    digest = hashlib.sha256(path.encode()).hexdigest()
    rel = path.removeprefix("/hostile/")
    return {"id": digest, "vector": vector, "path": path, "root": "hostile", "rel_path": rel,
            "content_hash": digest, "width": 10, "height": 10, "file_size": 1, "meta": {"category": "hat"}}  # fmt: skip


@pytest.fixture(scope="module", params=["lite", pytest.param("server", marks=pytest.mark.server)])
def paths_store(request, tmp_path_factory):
    if request.param == "lite":
        uri = str(tmp_path_factory.mktemp("escape") / "lite.db")
    else:
        uri = request.getfixturevalue("milvus_server").uri
    cfg = Config.load(env={}, milvus_uri=uri, collection=f"e_{uuid.uuid4().hex[:10]}", encoder="tiny",
                      weights="untrained", device="cpu")  # fmt: skip
    names = []
    for index, char, position in CASES:
        name = core(index, char, position)
        names += [name, name.replace(char, "z"), name.replace(char, "zz")]
    vectors = np.random.default_rng(0).normal(size=(len(names), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Store.open(cfg) as store:
        store.ensure_collection(INFO, metadata_types={"category": "text"})
        store.insert([_row(f"/hostile/{name}.jpg", v) for name, v in zip(names, vectors, strict=True)])
        store.flush_and_load()
        yield store, vectors[:1]
        store.drop()


def _paths(store: Store, probe: np.ndarray, where: dict) -> list[str]:
    expression = build_filter(where, dialect=store.dialect(), metadata_types={"category": "text"})
    return sorted(hit["path"] for hit in store.search(probe, k=200, filter=expression)[0])


@pytest.mark.parametrize("with_meta", [False, True], ids=["alone", "with-metadata"])
@pytest.mark.parametrize("key", ["path_prefix", "path_contains"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c!r}-{p}" for _, c, p in CASES])
def test_each_special_character_matches_its_row_only(paths_store, case, key, with_meta):
    store, probe = paths_store
    index, char, position = case
    name = core(index, char, position)
    where = {key: f"/hostile/{name}" if key == "path_prefix" else name}
    if with_meta:
        where["category"] = "hat"
    dialect = store.dialect()
    refused = key == "path_contains" and (
        not dialect.infix_like or (with_meta and dialect.plain_like and char in "%_")
    )
    if refused:
        with pytest.raises(QueryError, match="path_contains") as caught:
            _paths(store, probe, where)
        assert "path_prefix" in str(caught.value) or "literally" in str(caught.value)
        return
    assert _paths(store, probe, where) == [f"/hostile/{name}.jpg"]


def test_the_store_is_unchanged_by_the_filters(paths_store):
    store, _ = paths_store
    assert store.count() == 3 * len(CASES)


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory, sample_dir, tiny_encoder):
    """Real JPEGs named with backslashes, wildcards and quotes, ingested into Lite."""
    folder = tmp_path_factory.mktemp("odd") / "odd"
    folder.mkdir()
    source = sorted(sample_dir.rglob("*.jpg"))[0]
    names = ["back\\slash", "backslash", "50%_off", "50xyoff", 'say "hi"', "it's", "trail\\"]
    for name in names:
        shutil.copy(source, folder / f"{name}.jpg")
    Image.new("RGB", (40, 30), "red").save(folder / "query.jpg")
    uri = str(folder.parent / "lite.db")
    cfg = Config.load(env={}, milvus_uri=uri, collection="odd", encoder="tiny", weights="untrained")
    ingest(folder, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    return uri, folder


@pytest.mark.parametrize("value", ["back\\slash", "50%_off", 'say "hi"', "it's", "trail\\"])
def test_mmrag_search_where_path_contains_finds_the_stored_file(odd_folder, value, tmp_path, capsys):
    uri, folder = odd_folder
    code = main(["search", "--uri", uri, "--collection", "odd", "--device", "cpu", "--image",
                 str(folder / "query.jpg"), "--where", f"path_contains={value}", "--json", "--out",
                 str(tmp_path / "out")])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err
    hits = json.loads(captured.out)["hits"]
    assert [hit["path"].rsplit("/", 1)[-1] for hit in hits] == [f"{value}.jpg"]
