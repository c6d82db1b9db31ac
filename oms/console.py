"""Where `oms` writes: results on stdout (a key, a table), notes and errors on stderr, so
``KEY=$(oms keys issue …)`` captures the key alone. Lines are never cut to the terminal's
width, and a table written to a pipe is as wide as it needs (rich would assume 80 columns)."""

from __future__ import annotations

import os
import sys

from rich.console import Console

_PIPE_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200

out = Console(highlight=False, soft_wrap=True, width=_PIPE_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)
