"""Workbench: what the notebooks, the app and ``make demo`` stand on, above the library core.

:mod:`.session` sets a notebook up (config, weights, recorder), :mod:`.recorder` keeps the values and figures a
run records, :mod:`.runs` runs notebooks headless with papermill, :mod:`.app` and :mod:`.app_backend` are the
ipywidgets search-and-rerank app, :mod:`.compare_app` and :mod:`.compare_backend` its compare view (two
collections, one query, two grids), :mod:`.compare_nb` gathers the runs that ``06_compare`` compares,
:mod:`.demo` is ``make demo``, :mod:`.weights_choice` decides up front which weights an unattended run can
have, :mod:`.eval_notebook` keeps the ``05_evaluate`` cells to one call each, and :mod:`.sample` locates the
bundled sample. The core never imports it.
"""
