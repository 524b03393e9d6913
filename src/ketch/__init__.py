"""ketch: a terminal coding agent. Nothing runs at import time; see DESIGN.md."""

__version__ = "0.1.0"
