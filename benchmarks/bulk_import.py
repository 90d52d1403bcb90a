"""Bulk import against upserts, into one Milvus 2.3.5 standalone started here: which writes rows faster?

usage: python benchmarks/bulk_import.py OUT.json [--rows 100000] [--dim 512] [--batch-size 256] [--writers 4]

Three ways to write the same ``--rows`` rows (ingest's own rows: random unit vectors plus the core fields),
each into a new collection of the project's schema, each timed until the rows are persisted:

- ``upsert``: one client, ingest's writer (``Store.insert_new``: a look-up, then one keyed upsert per batch),
  then a flush;
- ``upsert_parallel``: ``--writers`` clients in threads, as the Ray engine's writer actors, then a flush;
- ``bulk_import``: pymilvus' ``LocalBulkWriter`` writes Parquet into the server's storage, then
  ``do_bulk_insert`` (the import of Milvus 2.3) and a wait until the import is complete.

Each collection is then loaded and counted; the import's time runs until its rows are queryable (an import
reported complete was not yet counted on a 16-core machine). A second import of the same files shows what an import does with
ids already stored (2.3 appends them: the count doubles), the reason an interrupted or repeated import needs
its own de-duplication. Needs ``pip install 'pymilvus[bulk_writer]' milvus==2.3.5``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from mmrag_lab.config import Config  # noqa: E402
from mmrag_lab.encoders.base import EncoderInfo  # noqa: E402
from mmrag_lab.store.schema import build_schema  # noqa: E402
from mmrag_lab.store.vector_store import Store  # noqa: E402

DONE = ("Completed", "ImportCompleted")


def make_rows(count: int, dim: int) -> list[dict]:
    vectors = np.random.default_rng(0).standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        {"id": f"{i:064x}", "vector": v, "path": f"/photos/{i}.jpg", "root": "photos", "rel_path": f"{i}.jpg",
         "content_hash": f"{i:064x}", "width": 640, "height": 480, "file_size": 60_000, "meta": {}}
        for i, v in enumerate(vectors)
    ]  # fmt: skip


def fresh(uri: str, name: str, dim: int) -> Config:
    config = Config.load(env={}, milvus_uri=uri, collection=name)
    with Store.open(config) as store:
        if store.exists():
            store.drop()
        store.ensure_collection(EncoderInfo("bench-random", dim, True, "random", "random"))
    return config


def counted(config: Config) -> int:
    with Store.open(config) as store:
        store.flush_and_load()
        return store.count()


def upserts(config: Config, rows: list[dict], batch: int, writers: int) -> float:
    """Seconds to write ``rows`` with ``writers`` clients (ingest's writer), then flush."""
    chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    stores = [Store.open(config) for _ in range(writers)]
    for store in stores:
        store.count()  # connected and the collection checked before the clock starts
    start = time.perf_counter()

    def work(k: int) -> None:
        for chunk in chunks[k::writers]:
            stores[k].insert_new(chunk)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stores[0].flush()
    seconds = time.perf_counter() - start
    for store in stores:
        store.close()
    return seconds


def bulk_import(config: Config, rows: list[dict], dim: int, storage: Path) -> tuple[float, dict, list]:
    """Seconds to write Parquet with ``LocalBulkWriter`` into the server's storage and import it."""
    from pymilvus import connections
    from pymilvus.bulk_writer import BulkFileType, LocalBulkWriter

    connections.connect(alias="bulk", uri=config.milvus_uri)
    start = time.perf_counter()
    writer = LocalBulkWriter(
        schema=build_schema(dim), local_path=str(storage), file_type=BulkFileType.PARQUET
    )
    for row in rows:
        writer.append_row(row | {"vector": row["vector"].tolist()})
    writer.commit()
    written = time.perf_counter() - start
    files = writer.batch_files
    states = [run_import(config.collection, batch) for batch in files]
    imported = time.perf_counter() - start
    seen = wait_for_count(config, len(rows))  # an import reported complete is not yet queryable
    seconds = time.perf_counter() - start
    detail = {"write_parquet_s": round(written, 2), "import_s": round(imported - written, 2)}
    detail |= {"import_rows_per_s": round(len(rows) / (imported - written)), "files": len(files)}
    detail |= {"queryable_after_s": round(seconds - imported, 2), "count_seen": seen, "states": states}
    return seconds, detail, files


def wait_for_count(config: Config, want: int, limit_s: float = 300.0) -> int:
    """Poll the collection's row count until it is ``want`` (or ``limit_s`` passes); the last count."""
    deadline = time.perf_counter() + limit_s
    with Store.open(config) as store:  # the collection is loaded since its creation: no index wait here
        while True:
            seen = store.count()
            if seen >= want or time.perf_counter() > deadline:
                return seen
            time.sleep(0.25)


def run_import(collection: str, files: list[str]) -> str:
    from pymilvus import utility

    task = utility.do_bulk_insert(collection, files=files, using="bulk")
    while True:
        state = utility.get_bulk_insert_state(task, using="bulk")
        if state.state_name in DONE or "Fail" in state.state_name:
            if "Fail" in state.state_name:
                raise RuntimeError(f"import failed: {state.failed_reason}")
            return state.state_name
        time.sleep(0.05)


def start_server(base: Path):
    from milvus import default_server

    default_server.set_base_dir(str(base))
    default_server.start()
    return default_server, f"http://127.0.0.1:{default_server.listen_port}", base / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mmrag_bulk_"))
    server, uri, storage = start_server(base)
    results: dict = {
        "environment": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "server": "2.3.5"},
        "settings": vars(args),
    }
    try:
        rows = make_rows(args.rows, args.dim)
        runs = {}
        for name, writers in (("upsert", 1), ("upsert_parallel", args.writers)):
            config = fresh(uri, name, args.dim)
            seconds = upserts(config, rows, args.batch_size, writers)
            runs[name] = {"seconds": round(seconds, 2), "rows_per_s": round(args.rows / seconds),
                          "writers": writers, "count": counted(config)}  # fmt: skip
            print(name, runs[name], flush=True)
        config = fresh(uri, "bulk", args.dim)
        seconds, detail, files = bulk_import(config, rows, args.dim, storage / "bulk")
        runs["bulk_import"] = {"seconds": round(seconds, 2), "rows_per_s": round(args.rows / seconds),
                               **detail, "count": counted(config)}  # fmt: skip
        print("bulk_import", runs["bulk_import"], flush=True)
        for batch in files:  # the same files again: what an import does with ids already stored
            run_import(config.collection, batch)
        runs["bulk_import"]["count_after_importing_again"] = wait_for_count(config, 2 * args.rows, 120.0)
        base_rate = runs["upsert"]["rows_per_s"]
        for run in runs.values():
            run["over_upsert"] = round(run["rows_per_s"] / base_rate, 2)
        results["runs"] = runs
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(json.dumps(results["runs"], indent=1))


if __name__ == "__main__":
    main()
