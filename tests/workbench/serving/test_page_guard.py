"""The page's guard: a failure while building a widget becomes one readable line."""

from __future__ import annotations

from mmrag_lab.errors import StoreError
from mmrag_lab.workbench.serving.page_guard import guarded, one_line


def test_one_line_keeps_our_messages_and_names_other_errors():
    assert (
        one_line(StoreError("The collection is empty.\n  Ingest first."))
        == "The collection is empty. Ingest first."
    )
    assert one_line(ZeroDivisionError("division by zero")) == "ZeroDivisionError: division by zero"
    assert guarded(lambda: 42, "x") == 42
