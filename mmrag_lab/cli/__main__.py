"""``python -m mmrag_lab.cli`` runs the ``mmrag`` command."""

import sys

from mmrag_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
