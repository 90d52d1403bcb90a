"""The kernel cap of ``mmrag app``, on real kernels: one over the cap is refused with a 503 that says why."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from tornado import web

from mmrag_lab.workbench.serving.app_server import CappedKernelManager


def run_apart(scenario):
    """``asyncio.run(scenario())`` on a thread of its own: an earlier test (a browser driver, a kernel
    client) may have left an event loop running on this one, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_kernel_past_the_cap_is_refused_and_a_freed_place_is_taken_again(tmp_path):
    async def scenario():
        manager = CappedKernelManager(max_kernels=1, connection_dir=str(tmp_path))
        first = await manager.start_kernel(kernel_name="python3")
        with pytest.raises(web.HTTPError) as refused:
            await manager.start_kernel(kernel_name="python3")
        assert refused.value.status_code == 503 and "serves 1 visitor(s) at once" in refused.value.reason
        assert manager.list_kernel_ids() == [first]
        await manager.shutdown_kernel(first, now=True)
        again = await manager.start_kernel(kernel_name="python3")
        await manager.shutdown_kernel(again, now=True)
        return again

    assert run_apart(scenario)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_starts_never_pass_the_cap(tmp_path):
    async def scenario():
        manager = CappedKernelManager(max_kernels=2, connection_dir=str(tmp_path))
        tries = await asyncio.gather(*(manager.start_kernel(kernel_name="python3") for _ in range(3)),
                                     return_exceptions=True)  # fmt: skip
        started = [t for t in tries if isinstance(t, str)]
        refused = [t for t in tries if isinstance(t, web.HTTPError)]
        for kernel_id in started:
            await manager.shutdown_kernel(kernel_id, now=True)
        return len(started), len(refused)

    assert run_apart(scenario) == (2, 1)
