"""The GPU mapper: JPEGs decoded by nvJPEG and preprocessed on the encoder's device, on its own stream.

Files are read ahead on threads (:func:`~mmrag_lab.ingestion.reader.read_batches`); each batch is decoded
and resized by :func:`~mmrag_lab.ingestion.gpu_decode.prepare_batch` on a CUDA stream of its own, so the
model works on one batch while the next is decoded. Files that nvJPEG cannot take exactly (PNG, CMYK,
12-bit, arithmetic coding, odd EXIF…) are decoded on the CPU file by file; bad files are reported with the
same reasons as the CPU mapper.

GPU decoding is opt-in (``--gpu-decode``): nvJPEG's pixels differ slightly from libjpeg-turbo's, and the
embeddings agree with the CPU path's less closely than the 0.999 minimum cosine a default would need
(BENCHMARKS.md, "GPU ingest on an H200", agreement).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import torch

from mmrag_lab.encoders.preprocessing import Preprocessing
from mmrag_lab.errors import ConfigError
from mmrag_lab.images import image_size
from mmrag_lab.ingestion.gpu_decode import prepare_batch
from mmrag_lab.ingestion.mapper import PreparedBatch
from mmrag_lab.ingestion.reader import Task, read_batches


class GpuMapper:
    """Decodes on ``device`` with ``preprocessing``, which must be one the GPU path reproduces.

    Raises:
        ConfigError: The preprocessing is not one the GPU path reproduces.
    """

    def __init__(self, preprocessing: Preprocessing, device: torch.device, encoder_name: str = "the encoder"):
        if not preprocessing.gpu_reproducible():
            raise ConfigError(
                f"GPU decoding reproduces a bicubic shorter-side resize and centre crop only; {encoder_name} "
                f"preprocesses otherwise ({preprocessing.resize}, {preprocessing.interpolation}, crop "
                f"{preprocessing.crop}). Ingest without --gpu-decode."
            )
        self.preprocessing, self.device = preprocessing, device

    def batches(self, tasks: list[Task], batch_size: int) -> Iterator[PreparedBatch]:
        """A generator: reading starts with the first batch asked for."""
        prep, device = self.preprocessing, self.device
        stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        for chunk, reads in read_batches(tasks, batch_size):
            good = [(task, data) for task, (data, _) in zip(chunk, reads) if data is not None]
            failed = [(task, error) for task, (_, error) in zip(chunk, reads) if error is not None]
            with torch.cuda.stream(stream) if stream is not None else nullcontext():
                prepared = prepare_batch([d for _, d in good], prep, device)
            if stream is not None:
                stream.synchronize()  # the model runs on another stream: hand over finished pixels only
            sizes = [prepared.sizes.get(i) or image_size(good[i][1]) for i in prepared.ok]
            failed += [(good[i][0], reason) for i, reason in sorted(prepared.errors.items())]
            yield PreparedBatch([good[i][0] for i in prepared.ok], prepared.pixels, sizes, failed)
