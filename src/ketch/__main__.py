"""`python -m ketch`. Python put the working folder first on sys.path; a project's
`argparse.py` or `httpx/` there would run as ketch, so it goes before anything is imported."""

import os
import sys

_cwd = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != _cwd]

from ketch.cli import main

main()
