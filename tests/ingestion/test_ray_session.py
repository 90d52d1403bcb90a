"""Ray options refused before any work, with a message that says what works; what the workers inherit."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.ray_session import RayOptions, _passed, check_ray_options


@pytest.mark.parametrize(
    "engine, options, message",
    [("spark", None, "must be one of local, ray"),
     ("local", RayOptions(address="auto"), "need --engine ray"),
     ("ray", RayOptions(address="localhost:6379"), "auto or ray://host:port"),
     ("ray", RayOptions(actors=0), "actors must be a whole number"),
     ("ray", RayOptions(writers=0), "writers must be 1 to 64"),
     ("ray", RayOptions(actors_per_gpu=17), "actors per GPU 1 to 16")],
)  # fmt: skip
def test_bad_ray_options_are_refused(engine, options, message):
    with pytest.raises(ConfigError, match=message):
        check_ray_options(engine, options)


def test_good_options_pass_and_the_local_engine_needs_no_ray():
    check_ray_options("local", None)
    check_ray_options("local", RayOptions())
    check_ray_options("ray", RayOptions(address="ray://head:10001", actors=3, writers=2))


def test_the_workers_get_the_code_path_and_the_projects_settings_only():
    env = {"PYTHONPATH": "/code", "MMRAG_WEIGHTS": "/w.pth", "HOME": "/root", "OPENAI_API_KEY": "sk-x"}
    assert _passed(env) == {"PYTHONPATH": "/code", "MMRAG_WEIGHTS": "/w.pth"}
