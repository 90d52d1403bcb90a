"""Workbench: what the notebooks, the app and ``make demo`` stand on, above the library core.

Three sub-packages: :mod:`.runtime` is what a notebook stands on (parameters, the session, the recorder,
headless runs with papermill, the demo, the bundled sample); :mod:`.widgets` holds the ipywidgets apps (composed
search and reranking, the compare view) with the work behind each; :mod:`.serving` serves the app as one page
with Voila. The core never imports it.
"""
