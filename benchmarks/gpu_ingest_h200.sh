#!/usr/bin/env bash
# The GPU ingest section of BENCHMARKS.md, on one nvidia-h200 machine: `bash benchmarks/gpu_ingest_h200.sh lite|server OUT`.
# lite: each stage alone and end to end into Milvus Lite for both presets, then py-spy profiles of the compiled
# visualized-bge-base run, as a first ingest (hashed while read) and beside another folder (the plan hashes
# first). server: the same into a Milvus 2.3.5 standalone started here. STEP_S, PROFILE_S and REPEAT are optional.
# Wheels missing on the machine are expected in PYTHONPATH already (pymilvus, milvus-lite or milvus, py-spy).
set -u
mode=$1 out=$2
mkdir -p "$out"
nvidia-smi -L; nproc; python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"
runs=gpu_decode_overlap,gpu_decode_overlap_compiled,gpu_decode_overlap_compiled_graphs,gpu_decode_overlap_compiled_hashed
extra=(--cpu-share 0.15 --repeat "${REPEAT:-1}")  # REPEAT=2: a second round, with the compiled code warm
if [ "$mode" = server ]; then
  python3 -c "
from milvus import default_server as s
s.set_base_dir('/tmp/milvus_bench'); s.start(); import time; time.sleep(10**6)" > "$out/server_log.txt" 2>&1 &
  for _ in $(seq 60); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 19530), 1)" 2>/dev/null && break; sleep 1; done
  extra+=(--server-uri http://127.0.0.1:19530 --no-lite --skip agreement scaling)
else
  extra+=(--skip agreement scaling)
fi
for preset in visualized-bge-base bge-vl-base; do
  timeout "${STEP_S:-230}" python3 benchmarks/gpu_ingest.py "$out/${mode}_$preset.json" --preset "$preset" \
    --runs "$runs" "${extra[@]}" 2>&1 | grep -v Warning | tail -n 25
done
if command -v py-spy >/dev/null; then
  for run in gpu_decode_overlap_compiled gpu_decode_overlap_compiled_hashed; do
    name=profile_${mode}_vbge_${run##*_}
    rm -rf /tmp/mmrag_gpu_bench/*.db*
    timeout "${PROFILE_S:-100}" py-spy record -r 67 --threads --idle -f raw -o "$out/$name.txt" -- \
      python3 benchmarks/gpu_ingest.py "/tmp/$name.json" --preset visualized-bge-base \
      --runs "$run" "${extra[@]}" --repeat 1 --skip agreement scaling stages 2>&1 | tail -n 3
    python3 benchmarks/profile_summary.py "$out/$name.txt" > "$out/${name}_summary.txt"
    gzip -f "$out/$name.txt"
  done
fi
ls -la "$out"
