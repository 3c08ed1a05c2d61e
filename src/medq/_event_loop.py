"""The event loop of medq's long-running commands: uvloop where it is installed, else
asyncio's own.

uvloop runs the same asyncio programs with its loop and transports in C; on the issue-19
bench (1,273 calls, 32 in flight) a `medq eval` used about a tenth less CPU on it. Only the
CLI picks it, for itself: a program that imports medq as a library keeps its own loop.
``MEDQ_EVENT_LOOP=asyncio`` keeps asyncio's loop (to compare, or to debug).
"""

from __future__ import annotations

import asyncio
import os
import sys

__all__ = ["use_fast_loop"]


def use_fast_loop() -> str:
    """Make uvloop's the event-loop policy of this process, where it is installed and not
    turned off; the name of the loop the process now uses (``uvloop`` or ``asyncio``)."""
    if os.environ.get("MEDQ_EVENT_LOOP", "").strip().lower() == "asyncio":
        return "asyncio"
    # Event-loop policies are deprecated from Python 3.14 on; there, asyncio's loop.
    if sys.version_info >= (3, 14) or sys.platform == "win32":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
