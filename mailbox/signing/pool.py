"""Sealing off the event loop: in worker processes (throughput) or one thread (small installs).

Each worker process loads the key material once and keeps one ``Sealer`` for its lifetime, so a
seal costs only the signature. Workers are forked from a forkserver that has imported just this
module (pyHanko, no web layer, no database), so starting one is quick and cheap in memory.
As with any multiprocessing start method but fork, a worker also re-imports the main *script*
(not a ``python -m`` module, such as ``python -m mailbox``): scripts must guard their entry
point with ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from mailbox.signing.active_content import ActiveContentPolicy
from mailbox.signing.pki import KeyMaterial, load_key_material
from mailbox.signing.seal import SealedDocument, Sealer
from mailbox.signing.tsa import remote_timestamper

__all__ = ["SealingPool"]

T = TypeVar("T")

_worker_sealer: Sealer | None = None


class SealingPool:
    """Runs ``Sealer.seal`` without blocking the event loop.

    ``workers`` > 0 starts that many processes; 0 seals in a thread with a ``Sealer`` built
    here. ``tsa_url`` selects an external time-stamping authority instead of the local one.
    ``worker_setup`` (a module-level function) runs first in each worker process, e.g. to
    send the PDF parser's log lines where the service's go.
    """

    def __init__(
        self,
        key_dir: Path,
        *,
        workers: int = 0,
        tsa_url: str | None = None,
        worker_setup: Callable[[], None] | None = None,
    ) -> None:
        if workers < 0:
            raise ValueError(f"workers must be 0 or more, not {workers}")
        # Loading here also makes a missing PKI fail at start-up, not at the first dispatch.
        keys = load_key_material(key_dir)
        self.workers = workers
        self._sealer: Sealer | None = None
        self._executor: ProcessPoolExecutor | None = None
        self._thread: ThreadPoolExecutor | None = None
        if workers == 0:
            # One thread: a Sealer is not thread-safe (pyHanko and asn1crypto mutate cached
            # structures), and more threads would only fight over the GIL.
            self._sealer = _build_sealer(keys, tsa_url)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sealer")
        else:
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(str(key_dir), tsa_url, worker_setup),
            )

    async def seal(self, data: bytes, *, reason: str, location: str | None = None) -> bytes:
        """The sealed PDF; raises ``PdfRejected`` (with its ``reason``) for unusable input."""
        return await self._run(_seal_in_worker, data, reason=reason, location=location)

    async def seal_document(
        self,
        data: bytes,
        *,
        reason: str,
        location: str | None = None,
        active_content: ActiveContentPolicy = "reject",
    ) -> SealedDocument:
        """A dispatched PDF sealed under the office's ``active_content`` policy (see
        ``Sealer.seal_document``); raises ``PdfRejected`` for unusable or refused input."""
        return await self._run(
            _seal_document_in_worker,
            data,
            reason=reason,
            location=location,
            active_content=active_content,
        )

    async def seal_data(self, data: bytes) -> bytes:
        """A detached, timestamped CMS seal over a data document's bytes (see
        ``Sealer.seal_data``)."""
        return await self._run(_seal_data_in_worker, data)

    async def _run(self, work: Callable[..., T], data: bytes, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        if self._sealer is not None and self._thread is not None:
            return await loop.run_in_executor(
                self._thread, partial(work, data, sealer=self._sealer, **kwargs)
            )
        if self._executor is None:
            raise RuntimeError("The sealing pool is closed")
        return await loop.run_in_executor(self._executor, partial(work, data, **kwargs))

    def close(self) -> None:
        """Stop the worker processes (after current seals finish); idempotent."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._thread = None
        self._sealer = None


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        # The server imports this module once; every worker forks from it with pyHanko loaded.
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _build_sealer(keys: KeyMaterial, tsa_url: str | None) -> Sealer:
    return Sealer(keys, timestamper=remote_timestamper(tsa_url) if tsa_url else None)


def _init_worker(
    key_dir: str, tsa_url: str | None, worker_setup: Callable[[], None] | None
) -> None:
    global _worker_sealer
    if worker_setup is not None:
        worker_setup()
    # The parent stops its workers when it is told to stop, after the seals in progress: a
    # SIGINT or SIGTERM sent to the whole process group (Ctrl-C in a terminal, a service
    # manager) must not cut a seal that a request is waiting for.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker_sealer = _build_sealer(load_key_material(Path(key_dir)), tsa_url)


def _sealer_here(sealer: Sealer | None) -> Sealer:
    """The sealer given (thread mode), or this worker process's own."""
    if sealer is not None:
        return sealer
    if _worker_sealer is None:
        raise RuntimeError("Sealing worker was not initialised")
    return _worker_sealer


def _seal_in_worker(
    data: bytes, *, reason: str, location: str | None, sealer: Sealer | None = None
) -> bytes:
    return _sealer_here(sealer).seal(data, reason=reason, location=location)


def _seal_document_in_worker(
    data: bytes,
    *,
    reason: str,
    location: str | None,
    active_content: ActiveContentPolicy,
    sealer: Sealer | None = None,
) -> SealedDocument:
    return _sealer_here(sealer).seal_document(
        data, reason=reason, location=location, active_content=active_content
    )


def _seal_data_in_worker(data: bytes, *, sealer: Sealer | None = None) -> bytes:
    return _sealer_here(sealer).seal_data(data)
