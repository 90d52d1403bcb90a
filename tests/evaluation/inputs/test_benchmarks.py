"""``mmrag eval`` against re-implementations of the benchmarks' official evaluation code.

Synthetic CIRR, CIRCO and FashionIQ files, laid out in the real formats, name the 40 sample photos (ingested
once, tiny untrained encoder). The ``official_*`` functions below follow the published code step by step,
in numpy: CLIP4Cir ``validate.py`` (CIRR, FashionIQ), CIRPLANT ``OSCAR_CIRPLANT.py`` (CIRR soft targets),
SEARLE ``validate.py`` with CIRCO ``evaluation.py`` (CIRCO), and the submission formats of the CIRR
``Test-split_server.md`` and the CIRCO README. Every default and every override is compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmrag_lab.cli import main
from mmrag_lab.config import Config
from mmrag_lab.evaluation import join_fashioniq_captions, load_run
from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.store.vector_store import Store


@pytest.fixture(scope="module")
def bench(tmp_path_factory, sample_dir, tiny_encoder):
    """The sample in Milvus Lite, its stored vectors by name, and the sample's files by class."""
    folder = tmp_path_factory.mktemp("protocols")
    cfg = Config.load(env={}, milvus_uri=str(folder / "p.db"), collection="p", encoder="tiny",
                      weights="untrained", device="cpu")  # fmt: skip
    ingest(sample_dir, config=cfg, encoder=tiny_encoder, options=IngestOptions(workers=0), progress=False)
    store = Store.open(cfg)
    names, blocks = [], []
    for rows, matrix in store.iter_vectors(("path",)):
        names += [Path(r["path"]).stem for r in rows]
        blocks.append(matrix)
    store.close()
    classes = [
        sorted(f for f in d.glob("*.jpg")) for d in sorted(p for p in sample_dir.iterdir() if p.is_dir())
    ]
    return {"cfg": cfg, "names": np.array(names), "index": _normalise(np.concatenate(blocks)),
            "classes": classes, "path": {f.stem: str(f) for c in classes for f in c}}  # fmt: skip


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _queries(bench, tiny_encoder, refs, captions) -> np.ndarray:
    return _normalise(tiny_encoder.encode_queries([bench["path"][r] for r in refs], list(captions)))


def _eval(bench, queries, out, *extra) -> dict:
    cfg = bench["cfg"]
    args = ["eval", str(queries), "--uri", cfg.milvus_uri, "--collection", cfg.collection, "--encoder", "tiny",
            "--weights", "untrained", "--device", "cpu", "--out", str(out), "--no-progress", *extra]  # fmt: skip
    assert main(args) == 0
    return load_run(out).metrics


# --- CIRR -------------------------------------------------------------------------------------------


def _cirr_entries(bench, soft: bool = True, labelled: bool = True) -> list[dict]:
    entries = []
    for i, files in enumerate(bench["classes"]):
        members = [f.stem for f in files] + [bench["classes"][(i + 1) % 10][0].stem]
        ref, hard = members[0], members[1 + i % 3]
        entry = {"pairid": 100 + i, "reference": ref, "caption": f"a photo {i}",
                 "img_set": {"id": i, "members": members, "reference_rank": 0, "target_rank": 1 + i % 3}}  # fmt: skip
        if labelled:
            entry["target_hard"] = hard
            # CIRR grades: the hard target 1.0, other set members 0.5 or -1.0.
            negative = members[3] if hard != members[3] else members[2]
            entry["target_soft"] = {hard: 1.0, members[4]: 0.5, negative: -1.0}
        entries.append(entry)
    return entries


def official_cirr(sims, names, refs, hards, groups, exclude=True) -> dict:
    """CLIP4Cir ``compute_cirr_val_metrics`` (distances, argsort, reference mask, group mask)."""
    sorted_names = names[np.argsort(1 - sims, axis=1, kind="stable")]
    if exclude:
        mask = sorted_names != np.array(refs)[:, None]
        sorted_names = sorted_names[mask].reshape(len(refs), -1)
    labels = sorted_names == np.array(hards)[:, None]
    group_mask = (sorted_names[..., None] == np.array(groups)[:, None, :]).sum(-1).astype(bool)
    group_labels = labels[group_mask].reshape(len(refs), -1)
    out = {f"recall@{k}": labels[:, :k].sum() / len(labels) for k in (1, 5, 10, 50)}
    out.update({f"recall_subset@{k}": group_labels[:, :k].sum() / len(labels) for k in (1, 2, 3)})
    return out


def official_cirplant_soft(sims, names, refs, softs, groups) -> dict:
    """CIRPLANT ``eval_test_prepare_step_CIRR`` + ``eval_test_scoring_step_CIRR`` (graded soft recall)."""
    sims = sims.copy()
    for i, ref in enumerate(refs):
        sims[i, list(names).index(ref)] = sims[i].min()
    nn = [list(names[np.argsort(-row, kind="stable")]) for row in sims]
    out = {}
    for k in (1, 5, 10, 50):
        out[f"recall@{k}"] = np.mean([max([0.0] + [s for t, s in soft.items() if t in nns[:k]])
                                      for nns, soft in zip(nn, softs)])  # fmt: skip
    for k in (1, 2, 3):
        scores = []
        for nns, soft, group, ref in zip(nn, softs, groups, refs, strict=True):
            inset = [n for n in nns if n in group and n != ref]  # set_member_idx leaves the reference out
            scores.append(max([0.0] + [s for t, s in soft.items() if t in inset[:k]]))
        out[f"recall_subset@{k}"] = np.mean(scores)
    return out


@pytest.mark.parametrize("extra, exclude", [((), True), (("--keep-reference",), False)])
def test_cirr_hard_targets_match_clip4cir(bench, tiny_encoder, tmp_path, extra, exclude):
    entries = _cirr_entries(bench)
    path = tmp_path / "cap.rc2.val.json"
    path.write_text(json.dumps(entries))
    metrics = _eval(bench, path, tmp_path / "run", "--map-k", "5", *extra)
    q = _queries(bench, tiny_encoder, [e["reference"] for e in entries], [e["caption"] for e in entries])
    refs, hards = [e["reference"] for e in entries], [e["target_hard"] for e in entries]
    groups = [e["img_set"]["members"] for e in entries]
    want = official_cirr(q @ bench["index"].T, bench["names"], refs, hards, groups, exclude)
    got = metrics["retrieval"]["overall"]
    assert {k: got[k] for k in want} == pytest.approx(want)
    protocol = metrics["settings"]["protocol"]
    assert protocol["exclude_reference"] is exclude and protocol["search"].startswith("exact")
    assert ("OVERRIDDEN" in protocol["reference"]) is (not exclude)


def test_cirr_soft_targets_match_cirplant(bench, tiny_encoder, tmp_path):
    entries = _cirr_entries(bench)
    path = tmp_path / "cap.rc2.val.json"
    path.write_text(json.dumps(entries))
    metrics = _eval(bench, path, tmp_path / "run", "--cirr-soft")
    q = _queries(bench, tiny_encoder, [e["reference"] for e in entries], [e["caption"] for e in entries])
    want = official_cirplant_soft(q @ bench["index"].T, bench["names"], [e["reference"] for e in entries],
                                  [e["target_soft"] for e in entries], [e["img_set"]["members"] for e in entries])  # fmt: skip
    got = metrics["retrieval"]["overall"]
    assert {k: got[k] for k in want} == pytest.approx(want)
    assert metrics["settings"]["protocol"]["targets"].startswith("target_soft")


def test_cirr_test_split_submission_has_the_server_format(bench, tiny_encoder, tmp_path):
    entries = _cirr_entries(bench, labelled=False)
    path = tmp_path / "cap.rc2.test1.json"
    path.write_text(json.dumps(entries))
    _eval(bench, path, tmp_path / "run", "--submission", "-k", "1")
    recall = json.loads((tmp_path / "run" / "cirr_recall_submission.UNTRAINED.json").read_text())
    subset = json.loads((tmp_path / "run" / "cirr_recall_subset_submission.UNTRAINED.json").read_text())
    # Test-split_server.md: "version" and "metric" entries, then pairid -> top 50 (recall) or top 3 (subset).
    assert recall["version"] == "rc2" and recall["metric"] == "recall"
    assert subset["version"] == "rc2" and subset["metric"] == "recall_subset"
    assert set(recall) - {"version", "metric"} == {str(e["pairid"]) for e in entries} == set(subset) - {
        "version", "metric"}  # fmt: skip
    q = _queries(bench, tiny_encoder, [e["reference"] for e in entries], [e["caption"] for e in entries])
    order = bench["names"][np.argsort(-(q @ bench["index"].T), axis=1, kind="stable")]
    for e, row in zip(entries, order, strict=True):
        ranked = [n for n in row if n != e["reference"]]  # as SEARLE's cirr_generate_test_dicts
        assert recall[str(e["pairid"])] == ranked[:50]  # the whole (39-image) ranking here
        assert subset[str(e["pairid"])] == [n for n in ranked if n in e["img_set"]["members"]][:3]
        assert all(isinstance(n, str) for n in recall[str(e["pairid"])])


# --- CIRCO ------------------------------------------------------------------------------------------


def _circo(bench, labelled=True):
    files = [f for c in bench["classes"] for f in c]
    ids = {f.name: 5000 + 7 * i for i, f in enumerate(files)}
    info = {"images": [{"id": i, "file_name": name} for name, i in ids.items()]}
    entries = []
    for q, c in enumerate(bench["classes"]):
        gts = [ids[f.name] for f in c[1:]] + [ids[bench["classes"][(q + 3) % 10][2].name]]
        entry = {"id": q, "reference_img_id": ids[c[0].name], "relative_caption": f"in scene {q}",
                 "shared_concept": "a thing"}  # fmt: skip
        if labelled:
            entry.update(target_img_id=gts[0], gt_img_ids=gts, semantic_aspects=["addition"])
        entries.append(entry)
    return entries, info, {v: Path(k).stem for k, v in ids.items()}


def official_circo(sims, names, targets, gts, exclude=False) -> dict:
    """SEARLE ``circo_compute_val_metrics`` / CIRCO ``compute_metrics``: top 50, AP@K and target Recall@K."""
    out: dict[str, list] = {}
    for row, target, gt in zip(sims, targets, gts, strict=True):
        ranked = names[np.argsort(-row, kind="stable")]
        ranked = ranked[~np.isin(ranked, exclude)] if exclude is not False else ranked
        ranked = ranked[:50]
        labels = np.isin(ranked, gt)
        precisions = np.cumsum(labels) * labels / np.arange(1, len(labels) + 1)
        for k in (5, 10, 25, 50):
            out.setdefault(f"map@{k}", []).append(np.sum(precisions[:k]) / min(len(gt), k))
            out.setdefault(f"recall@{k}", []).append(float(np.sum(ranked[:k] == target)))
    return {k: float(np.mean(v)) for k, v in out.items()}


@pytest.mark.parametrize("extra, exclude", [((), False), (("--exclude-reference",), True)])
def test_circo_matches_searle_and_circo_evaluation(bench, tiny_encoder, tmp_path, extra, exclude):
    entries, info, name_of = _circo(bench)
    (tmp_path / "val.json").write_text(json.dumps(entries))
    (tmp_path / "info.json").write_text(json.dumps(info))
    metrics = _eval(bench, tmp_path / "val.json", tmp_path / "run", "--kind", "circo", "--coco-info",
                    str(tmp_path / "info.json"), "-k", "5", "10", "25", "50", *extra)  # fmt: skip
    refs = [name_of[e["reference_img_id"]] for e in entries]
    q = _queries(bench, tiny_encoder, refs, [e["relative_caption"] for e in entries])
    sims = q @ bench["index"].T
    gts = [[name_of[g] for g in e["gt_img_ids"]] for e in entries]
    targets = [name_of[e["target_img_id"]] for e in entries]
    if exclude:
        want = {}
        for i in range(len(entries)):
            one = official_circo(
                sims[i : i + 1], bench["names"], targets[i : i + 1], gts[i : i + 1], [refs[i]]
            )
            for k, v in one.items():
                want[k] = want.get(k, 0) + v / len(entries)
    else:
        want = official_circo(sims, bench["names"], targets, gts)
    got = metrics["retrieval"]["overall"]
    assert {k: got[k] for k in want} == pytest.approx(want)
    assert metrics["settings"]["protocol"]["exclude_reference"] is exclude
    # The any-ground-truth recall exists under its own name only, and is never below the target recall.
    assert all(got[f"recall_any@{k}"] >= got[f"recall@{k}"] for k in (5, 10, 25, 50))


def test_circo_test_split_submission_has_the_server_format(bench, tiny_encoder, tmp_path):
    entries, info, name_of = _circo(bench, labelled=False)
    (tmp_path / "test.json").write_text(json.dumps(entries))
    (tmp_path / "info.json").write_text(json.dumps(info))
    _eval(bench, tmp_path / "test.json", tmp_path / "run", "--kind", "circo", "--coco-info",
          str(tmp_path / "info.json"), "--submission")  # fmt: skip
    got = json.loads((tmp_path / "run" / "circo_submission.UNTRAINED.json").read_text())
    # CIRCO README: keys are all the query ids, values the top 50 image ids (integers), no other keys.
    assert sorted(got, key=int) == [str(e["id"]) for e in entries]
    refs = [name_of[e["reference_img_id"]] for e in entries]
    q = _queries(bench, tiny_encoder, refs, [e["relative_caption"] for e in entries])
    id_of = {v: k for k, v in name_of.items()}
    for e, row in zip(entries, q @ bench["index"].T, strict=True):
        want = [id_of[n] for n in bench["names"][np.argsort(-row, kind="stable")][:50]]  # reference kept
        assert got[str(e["id"])] == want and all(isinstance(i, int) for i in want)
        assert len(set(want)) == len(want)


# --- FashionIQ ---------------------------------------------------------------------------------------


def _fashioniq(bench, root: Path) -> dict:
    (root / "captions").mkdir(parents=True)
    (root / "image_splits").mkdir()
    cats = {"dress": bench["classes"][0:3], "shirt": bench["classes"][3:6], "toptee": bench["classes"][6:10]}
    captions = [["is red.", "has long sleeves"], ["", "is darker"], ["Is Shorter?", ""]]
    out = {}
    for cat, groups in cats.items():
        pool = [f.stem for g in groups for f in g]
        entries = [{"candidate": g[0].stem, "target": g[1 + j % 3].stem, "captions": captions[j % 3]}
                   for j, g in enumerate(groups)]  # fmt: skip
        (root / "captions" / f"cap.{cat}.val.json").write_text(json.dumps(entries))
        (root / "image_splits" / f"split.{cat}.val.json").write_text(json.dumps(pool))
        out[cat] = (entries, pool)
    return out


def official_fiq(q, index, names, targets) -> dict:
    """CLIP4Cir ``compute_fiq_val_metrics``: rank the category's images, reference kept; R@10 and R@50."""
    sorted_names = names[np.argsort(1 - q @ index.T, axis=1, kind="stable")]
    labels = sorted_names == np.array(targets)[:, None]
    return {f"recall@{k}": labels[:, :k].sum() / len(labels) for k in (10, 50)}


def clip4cir_join(captions) -> str:
    """CLIP4Cir ``validate.py``'s caption join, verbatim."""
    return f"{captions[0].strip('.?, ').capitalize()} and {captions[1].strip('.?, ')}"


@pytest.mark.parametrize("extra", [(), ("--exclude-reference",)])
def test_fashioniq_all_categories_match_clip4cir(bench, tiny_encoder, tmp_path, extra):
    data = _fashioniq(bench, tmp_path / "fashionIQ_dataset")
    metrics = _eval(bench, tmp_path / "fashionIQ_dataset" / "captions", tmp_path / "run", "-k", "1", "10", "50",
                    *extra)  # fmt: skip
    per_category = metrics["retrieval"]["per_category"]
    assert sorted(per_category) == ["dress", "shirt", "toptee"]
    position = {n: i for i, n in enumerate(bench["names"])}
    for cat, (entries, pool) in data.items():
        rows = np.array([position[n] for n in pool])
        instructions = [clip4cir_join(e["captions"]) for e in entries]
        assert instructions == [join_fashioniq_captions(e["captions"]) for e in entries]
        q = _queries(bench, tiny_encoder, [e["candidate"] for e in entries], instructions)
        if extra:  # the override: the reference leaves the category's ranking
            want = {}
            for i, e in enumerate(entries):
                keep = rows[bench["names"][rows] != e["candidate"]]
                one = official_fiq(q[i : i + 1], bench["index"][keep], bench["names"][keep], [e["target"]])
                want = {k: want.get(k, 0) + v / len(entries) for k, v in one.items()}
        else:
            want = official_fiq(q, bench["index"][rows], bench["names"][rows], [e["target"] for e in entries])
        assert {k: per_category[cat][k] for k in want} == pytest.approx(want)
    mean = {k: np.mean([per_category[c][k] for c in data]) for k in ("recall@10", "recall@50")}
    assert {k: metrics["retrieval"]["category_average"][k] for k in mean} == pytest.approx(mean)
    assert metrics["settings"]["protocol"]["candidates"].startswith("each category's own images")
    run = load_run(tmp_path / "run")
    assert " and is darker" in [r["instruction"] for r in run.rankings]  # an empty caption stays in
    for rec in run.rankings:
        pool = set(data[rec["category"]][1])
        assert {Path(p).stem for p in rec["paths"]} <= pool  # searched within its category only


def test_every_written_file_carries_the_untrained_mark(bench, tmp_path):
    path = tmp_path / "cap.rc2.val.json"
    path.write_text(json.dumps(_cirr_entries(bench)))
    _eval(bench, path, tmp_path / "run")
    out = tmp_path / "run"
    for name in ("config.json", "encoder.json", "metrics.json"):
        assert json.loads((out / name).read_text())["untrained"] is True, name
    assert all(json.loads(line)["untrained"] for line in (out / "rankings.jsonl").read_text().splitlines())
    assert "UNTRAINED" in (out / "results.md").read_text().splitlines()[0]
    header, *rows = (out / "results.csv").read_text().splitlines()
    assert header.endswith(",untrained") and all(r.endswith(",UNTRAINED") for r in rows)
