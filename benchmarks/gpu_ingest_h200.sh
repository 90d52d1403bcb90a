#!/usr/bin/env bash
# The GPU ingest section of BENCHMARKS.md, on one nvidia-h200 machine: `bash benchmarks/gpu_ingest_h200.sh lite|server OUT`.
# lite: each stage alone and end to end into Milvus Lite for both presets, then a py-spy profile of the compiled
# visualized-bge-base run. server: the same end-to-end runs into a Milvus 2.3.5 standalone started here.
# Wheels missing on the machine are expected in PYTHONPATH already (pymilvus, milvus-lite or milvus, py-spy).
set -u
mode=$1 out=$2
mkdir -p "$out"
nvidia-smi -L; nproc; python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"
runs=cpu_decode,gpu_decode_overlap,gpu_decode_overlap_compiled,gpu_decode_overlap_cpu_share_compiled
extra=(--cpu-share 0.15)
if [ "$mode" = server ]; then
  python3 -c "
from milvus import default_server as s
s.set_base_dir('/tmp/milvus_bench'); s.start(); import time; time.sleep(10**6)" > "$out/server_log.txt" 2>&1 &
  for _ in $(seq 60); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 19530), 1)" 2>/dev/null && break; sleep 1; done
  extra+=(--server-uri http://127.0.0.1:19530 --no-lite --skip agreement scaling)
  runs=gpu_decode_overlap,gpu_decode_overlap_compiled,gpu_decode_overlap_cpu_share_compiled
else
  extra+=(--skip agreement scaling)
fi
for preset in visualized-bge-base bge-vl-base; do
  timeout "${STEP_S:-230}" python3 benchmarks/gpu_ingest.py "$out/${mode}_$preset.json" --preset "$preset" \
    --runs "$runs" "${extra[@]}" 2>&1 | grep -v Warning | tail -n 25
done
if command -v py-spy >/dev/null; then
  rm -rf /tmp/mmrag_gpu_bench/*.db*
  timeout "${PROFILE_S:-110}" py-spy record -r 67 --threads --idle -f raw -o "$out/profile_${mode}_vbge.txt" -- \
    python3 benchmarks/gpu_ingest.py "$out/profile_${mode}_vbge.json" --preset visualized-bge-base \
    --runs gpu_decode_overlap_compiled "${extra[@]}" --skip agreement scaling stages 2>&1 | tail -n 5
  python3 benchmarks/profile_summary.py "$out/profile_${mode}_vbge.txt" > "$out/profile_${mode}_vbge_summary.txt"
  rm -f "$out/profile_${mode}_vbge.txt.gz"; gzip -k "$out/profile_${mode}_vbge.txt" 2>/dev/null; rm -f "$out/profile_${mode}_vbge.txt"
fi
ls -la "$out"
