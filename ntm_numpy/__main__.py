"""``python -m ntm_numpy ...``: the command line, whose code is ``app/cli.py``."""

import sys

from .app.cli import main

if __name__ == "__main__":
    sys.exit(main())
