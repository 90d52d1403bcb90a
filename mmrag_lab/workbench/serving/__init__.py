"""Serving the app as a page: Voila's command line, the page itself and its top-level error guard."""
