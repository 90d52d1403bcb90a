"""The notebooks' parameters: each value that cannot work is refused naming the notebook and the parameter."""

from __future__ import annotations

import pytest

from mmrag_lab.errors import ConfigError
from mmrag_lab.workbench.runtime.params import check_values


def test_good_values_none_and_unknown_parameters_pass(tmp_path):
    check_values({"DATA_DIR": str(tmp_path), "K": [1, 5], "ENCODER": "TINY", "PRICE_IN": 0, "RERANK": False})
    check_values({"DATA_DIR": None, "QUERY_IMAGE": None, "SOMETHING_ELSE": object()})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATA_DIR", "/no/such/folder", "is not an existing folder; give the folder's path, or None"),
        ("QUERIES", "/no/such/file.jsonl", "does not exist; check the path, or give None"),
        ("K", [5, -3], "must be a whole number from 1 to 16,384"),
        ("TOP_N", 101, "must be a whole number from 1 to 100"),
        ("RERANK", "yes", "must be True or False, got 'yes'"),
        ("PRICE_OUT", -1.0, "is a price in USD per 1M tokens, 0 or more"),
        ("PRICE_IN", True, "is a price in USD per 1M tokens"),
        ("INSTRUCTION", 3, "must be a text, got 3"),
        ("DEVICE", "gpu", "auto, cpu, cuda, cuda:N or mps"),
        ("URI", "ftp://host/db", "is not one Milvus speaks"),
    ],
)
def test_a_bad_value_names_the_notebook_and_the_parameter(name, value, message):
    with pytest.raises(ConfigError, match=f"^02_search: notebook parameter {name}.*{message}"):
        check_values({name: value}, "02_search")


def test_every_rule_accepts_the_notebooks_own_defaults():
    """The defaults in each parameters cell pass the rules (a rule that refuses them would be wrong)."""
    import papermill

    from mmrag_lab.workbench.runtime.notebook_runs import NOTEBOOKS_DIR, available_notebooks

    for name in available_notebooks():
        declared = papermill.inspect_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"))
        defaults = {key: eval(spec["default"]) for key, spec in declared.items()}  # noqa: S307 - our notebooks
        check_values(defaults, name)
