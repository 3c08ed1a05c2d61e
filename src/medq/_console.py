"""The `medq` console script: `medq.cli.main`, with the garbage collector paused before the
command line's own imports (see `medq._cli_errors.pause_gc`)."""

from __future__ import annotations

import gc


def main() -> None:
    """Console-script entry point."""
    gc.disable()  # `medq.cli.main` keeps it paused until the command runs
    from medq.cli import main as run

    run()
