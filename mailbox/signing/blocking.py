"""Run pyHanko's coroutines from the synchronous API of this package.

pyHanko's own synchronous wrappers call ``asyncio.run``, which fails in a thread that already
runs an event loop. Our functions are synchronous by contract (callers move them off the loop),
but a caller that forgets should get a slow answer, not a ``RuntimeError``: then the coroutine
runs on a helper thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_blocking"]

T = TypeVar("T")

_helper: ThreadPoolExecutor | None = None


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, whatever loop this thread runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    global _helper
    if _helper is None:
        _helper = ThreadPoolExecutor(max_workers=4, thread_name_prefix="signing-blocking")
    return _helper.submit(asyncio.run, coro).result()
