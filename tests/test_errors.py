"""The error hierarchy: what callers catch, and the messages that say what to do."""

from __future__ import annotations

import pytest

from mmrag_lab import errors


def test_every_error_is_an_mmrag_error_and_the_store_family_holds_together():
    found = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    raised = [c for c in found if not issubclass(c, Warning)]
    assert all(issubclass(c, errors.MmragError) for c in raised)
    assert issubclass(errors.SchemaOutdatedError, errors.CollectionMismatchError)
    assert issubclass(errors.CollectionMismatchError, errors.StoreError)
    assert issubclass(errors.FilterRefusedError, errors.QueryError) and issubclass(
        errors.FilterRefusedError, errors.StoreError
    )
    assert issubclass(errors.AuthenticationError, errors.RerankError)
    assert issubclass(errors.CheckpointMismatchError, errors.WeightsError)


def test_a_checkpoint_mismatch_lists_what_is_wrong_and_previews_long_lists():
    missing = [f"blocks.{i}.weight" for i in range(12)]
    exc = errors.CheckpointMismatchError(missing, ["extra.bias"], ["proj.weight"])
    text = str(exc)
    assert (
        "missing 12 parameter(s): blocks.0.weight" in text
        and "blocks.11.weight" not in text
        and "(+4 more)" in text
    )
    assert "unexpected 1 parameter(s): extra.bias" in text and "wrong shape for 1: proj.weight" in text
    assert "visualized-bge-base" in text  # says which file goes with which preset
    assert exc.missing == missing and exc.shape_mismatch == ["proj.weight"]
    assert "wrong shape" not in str(errors.CheckpointMismatchError(["a"], []))


def test_an_image_load_error_names_the_file_and_the_reason():
    exc = errors.ImageLoadError("x/a.jpg", "not a recognised image format")
    assert str(exc) == "x/a.jpg: not a recognised image format" and exc.reason.startswith("not a")
    with pytest.raises(errors.MmragError):
        raise exc
