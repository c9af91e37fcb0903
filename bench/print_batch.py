"""A print batch of 1,000 paper letters: the time and peak RSS to build it, against the bare
floor of merging the same letters with pypdf alone, measured in the same run.

Run from the repository root:  python bench/print_batch.py [--letters 1000]

Set-up (not timed in the batch figure): a throw-away SQLite install with its own PKI; one
document dispatched for real to an account without electronic delivery, and ``--letters``
paper deliveries of it to as many addresses (tests/paper/bulk.py); the outbox drain renders
their letters (timed and reported: ``letters_s``). Then:
- ``floor``: read the stored letters and merge them with pypdf, nothing else;
- ``batch``: build_print_batches as the daily job runs it: read, merge, write the manifest,
  seal the merged PDF with the service's seal, store both encrypted, record the batch.
Peak RSS is sampled from /proc every 5 ms while each step runs (``rss_peak_mb``, with the RSS
before it: ``rss_before_mb``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

from pypdf import PdfReader, PdfWriter  # noqa: E402
from sqlmodel import select  # noqa: E402

from mailbox.config import Settings  # noqa: E402
from mailbox.db import run_migrations  # noqa: E402
from mailbox.models import PaperLetter  # noqa: E402
from mailbox.notifications.outbox import drain_until_idle  # noqa: E402
from mailbox.paper.batches import build_print_batches  # noqa: E402
from mailbox.services import Services  # noqa: E402
from mailbox.signing.pki import create_local_pki  # noqa: E402
from mailbox.storage.blobs import create_master_key  # noqa: E402
from tests.factories import make_world  # noqa: E402
from tests.paper.bulk import paper_deliveries  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """The highest RSS of this process while the block runs, sampled every 5 ms."""

    def __enter__(self) -> PeakRss:
        self.before = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def merge_floor(blobs, blob_ids: list[str]) -> int:
    writer = PdfWriter()
    for blob_id in blob_ids:
        writer.append(PdfReader(io.BytesIO(blobs.get(blob_id))), import_outline=False)
    out = io.BytesIO()
    writer.write(out)
    return len(out.getvalue())


async def run(letters: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        key_dir = data / "keys"
        create_local_pki(key_dir)
        create_master_key(key_dir)
        url = f"sqlite+aiosqlite:///{data / 'mailbox.db'}"
        run_migrations(url)
        settings = Settings(
            data_dir=data,
            database_url=url,
            key_dir=key_dir,
            sealing_workers=0,
            scheduler_enabled=False,
            public_base_url="http://mailbox.bench",
        )
        services = Services.start(settings)
        try:
            world = await make_world(services, edelivery=False)
            await paper_deliveries(services, world, letters)
            started = time.perf_counter()
            await drain_until_idle(services, worker_id="bench", lanes=1, max_rounds=1000)
            letters_s = time.perf_counter() - started
            async with services.db.session() as session:
                rows = (
                    await session.exec(select(PaperLetter.blob_id).order_by(PaperLetter.created_at))
                ).all()
            assert len(rows) == letters, len(rows)
            with PeakRss() as floor_rss:
                started = time.perf_counter()
                floor_bytes = await asyncio.to_thread(merge_floor, services.blobs, list(rows))
                floor_s = time.perf_counter() - started
            with PeakRss() as batch_rss:
                started = time.perf_counter()
                (batch,) = await build_print_batches(services, actor="bench")
                batch_s = time.perf_counter() - started
            sealed = len(services.blobs.get(batch.blob_id))
        finally:
            await services.close()
    return {
        "letters": letters,
        "pages": batch.pages,
        "letters_s": round(letters_s, 2),
        "letters_per_s": round(letters / letters_s, 1),
        "floor": {
            "what": "pypdf merge of the stored letters only",
            "seconds": round(floor_s, 2),
            "rss_before_mb": round(floor_rss.before, 1),
            "rss_peak_mb": round(floor_rss.peak, 1),
            "bytes": floor_bytes,
        },
        "batch": {
            "what": "build_print_batches: merge, manifest, seal, store, record",
            "seconds": round(batch_s, 2),
            "rss_before_mb": round(batch_rss.before, 1),
            "rss_peak_mb": round(batch_rss.peak, 1),
            "bytes": sealed,
        },
        "batch_over_floor": round(batch_s / floor_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.letters)), indent=2))


if __name__ == "__main__":
    main()
