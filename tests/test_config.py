"""The default collection name follows the encoder; an explicit name always wins."""

from __future__ import annotations

from mmrag_lab.config import Config, collection_for


def test_visualized_bge_base_keeps_the_old_default_and_others_get_their_own():
    assert Config.load(env={}).collection == "mmrag_images" == collection_for("visualized-bge-base")
    assert Config.load(env={}, encoder="bge-vl-base").collection == "mmrag_images_bge_vl_base"
    assert Config.load(env={"MMRAG_ENCODER": "clip-vit-b16"}).collection == "mmrag_images_clip_vit_b16"


def test_a_followed_name_follows_a_new_encoder_and_a_given_one_stays():
    followed = Config.load(env={}, encoder="bge-vl-base").with_overrides(encoder="siglip2-base")
    assert followed.collection == "mmrag_images_siglip2_base"
    given = Config.load(env={"MMRAG_COLLECTION": "mine"}, encoder="bge-vl-base").with_overrides(
        encoder="tiny"
    )
    assert given.collection == "mine"
    assert Config.load(env={}, collection="x", encoder="tiny-clip").collection == "x"


def test_the_app_limits_come_from_the_environment_and_must_be_numbers():
    import pytest

    from mmrag_lab.errors import ConfigError

    defaults = Config.load(env={})
    assert (defaults.app_max_upload_mb, defaults.app_idle_timeout, defaults.app_max_kernels) == (
        10.0,
        600.0,
        8,
    )
    env = {"MMRAG_APP_MAX_UPLOAD_MB": "2.5", "MMRAG_APP_IDLE_TIMEOUT": "60", "MMRAG_APP_MAX_KERNELS": "3"}
    config = Config.load(env=env)
    assert (config.app_max_upload_mb, config.app_idle_timeout, config.app_max_kernels) == (2.5, 60.0, 3)
    assert Config.load(env=env, app_max_kernels=1).app_max_kernels == 1
    with pytest.raises(ConfigError, match="MMRAG_APP_MAX_KERNELS"):
        Config.load(env={"MMRAG_APP_MAX_KERNELS": "many"})
