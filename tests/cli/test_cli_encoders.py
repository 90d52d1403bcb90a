"""Every stage through the CLI with the BGE-VL and CLIP presets on untrained weights, on Milvus Lite:
``mmrag encoders``, ingest, search (composed, image, text, reranked), info, eval; the collection name
follows the encoder, and a collection opened with another encoder is an error naming both."""

from __future__ import annotations

import json
import shutil

import pytest
from openai_stub import OpenAIStub

from mmrag_lab.cli import main
from mmrag_lab.config import collection_for
from mmrag_lab.evaluation.records.rundir import load_run

pytestmark = pytest.mark.slow
QUERY_TEMPLATE = {"bge-vl-base": "circo-shared-concept", "clip-vit-b16": "instruction"}


@pytest.fixture(scope="module", params=["bge-vl-base", "clip-vit-b16"])
def ingested(request, tmp_path_factory, sample_dir):
    """Two photos of each of four classes, ingested by ``request.param`` into its default collection."""
    encoder, folder = request.param, tmp_path_factory.mktemp(request.param)
    images = folder / "images"
    for category in sorted(p for p in sample_dir.iterdir() if p.is_dir())[:4]:
        (images / category.name).mkdir(parents=True)
        for photo in sorted(category.glob("*.jpg"))[:2]:
            shutil.copy(photo, images / category.name / photo.name)
    uri = str(folder / "lite.db")
    common = ["--uri", uri, "--encoder", encoder, "--device", "cpu"]
    assert main(["ingest", str(images), *common, "--weights", "untrained", "--workers", "0"]) == 0
    return encoder, uri, images, common


def test_the_listing_names_every_preset_with_published_figures_marked(capsys):
    assert main(["encoders", "--json"]) == 0
    rows = {row["preset"]: row for row in json.loads(capsys.readouterr().out)}
    assert {"bge-vl-base", "bge-vl-large", "clip-vit-b16", "clip-vit-l14", "siglip2-base"} <= set(rows)
    assert rows["bge-vl-base"]["published"]["CIRCO mAP@5"] == 34.3
    assert rows["bge-vl-base"]["published_note"] == "published, not measured here"
    assert (
        rows["clip-vit-b16"]["weights"] == "openai/clip-vit-base-patch16"
        and rows["clip-vit-b16"]["dim"] == 512
    )


def test_the_default_collection_follows_the_encoder(ingested, capsys):
    encoder, _, _, common = ingested
    assert main(["info", *common[:4], "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["collection"] == collection_for(encoder) == f"mmrag_images_{encoder.replace('-', '_')}"
    assert summary["count"] == 8 and summary["encoder"] == encoder and summary["untrained"]


@pytest.mark.parametrize("mode", ["composed", "image", "text"])
def test_search_each_query_kind(ingested, capsys, tmp_path, mode):
    encoder, _, images, common = ingested
    query = str(sorted(images.rglob("*.jpg"))[0])
    args = {"composed": ["--image", query, "--instruction", "in red"], "image": ["--image", query],
            "text": ["--text", "a red dress"]}[mode]  # fmt: skip
    assert main(["search", *common[:4], *args, "-k", "3", "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["encoder"] == encoder and result["untrained"] is True and len(result["hits"]) == 3
    assert (tmp_path / "results.png").is_file()


def test_rerank_through_the_stub(ingested, capsys, tmp_path, monkeypatch):
    _, _, images, common = ingested
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    query = str(sorted(images.rglob("*.jpg"))[0])
    with OpenAIStub() as stub:
        code = main(["search", *common[:4], "--image", query, "--instruction", "in red", "--rerank",
                     "--llm-base-url", stub.base_url, "--out", str(tmp_path)])  # fmt: skip
    assert code == 0 and stub.requests and "reranked by" in capsys.readouterr().out


def test_eval_records_the_encoders_query_template(ingested, tmp_path):
    encoder, _, images, common = ingested
    folders = sorted(p for p in images.iterdir() if p.is_dir())
    ids = {p.name: 1000 + i for i, p in enumerate(sorted(images.rglob("*.jpg")))}
    info = {"images": [{"id": i, "file_name": name} for name, i in ids.items()]}
    (tmp_path / "image_info.json").write_text(json.dumps(info))
    names = [sorted(f.name for f in folder.glob("*.jpg")) for folder in folders]
    circo = [{"id": q, "reference_img_id": ids[n[0]], "target_img_id": ids[n[1]], "relative_caption": "is red",
              "shared_concept": "shows a garment", "gt_img_ids": [ids[n[1]]]} for q, n in enumerate(names)]  # fmt: skip
    (tmp_path / "val.json").write_text(json.dumps(circo))
    out = tmp_path / "run"
    args = ["eval", str(tmp_path / "val.json"), *common, "--weights", "untrained", "--kind", "circo",
            "--coco-info", str(tmp_path / "image_info.json"), "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    run = load_run(out)
    template = run.metrics["settings"]["query_template"]
    assert template["name"] == QUERY_TEMPLATE[encoder]
    assert template["n_changed"] == (len(circo) if encoder == "bge-vl-base" else 0)
    assert run.encoder["name"] == encoder and run.metrics["retrieval"]["n_evaluated"] == len(circo)


def test_another_encoder_on_the_collection_is_an_error_naming_both(ingested, capsys):
    encoder, uri, images, _ = ingested
    other = "tiny-clip"
    args = ["--uri", uri, "--collection", collection_for(encoder), "--encoder", other, "--device", "cpu"]
    assert main(["search", *args, "--text", "red"]) == 2
    message = capsys.readouterr().err
    assert encoder in message and other in message
    assert main(["ingest", str(images), *args, "--weights", "untrained", "--workers", "0"]) == 2
    message = capsys.readouterr().err
    assert encoder in message and other in message
