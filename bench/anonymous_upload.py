"""Memory of the server under anonymous uploads: its resident set before and after 8
concurrent anonymous ``POST /api/v1/dispatches``, each with a 50 MiB text field, and, for
contrast, the same sent by a dispatcher (authenticated, so the text field cap applies).

Run from the repository root:  python bench/anonymous_upload.py [--requests 8] [--mib 50]

It sets up a throw-away install (SQLite, local keys), starts the real service
(`python -m mailbox serve`, sealing in a thread) as a subprocess, and prints one JSON object:
the server's RSS (VmRSS) and peak RSS (VmHWM) in MiB before and after each wave, every
answer's status, and how long each wave took. The caller is authenticated from the headers
before any of the body is read, so an anonymous upload should cost next to nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # our `mailbox`, not the standard-library module
if "mailbox" in sys.modules and not hasattr(sys.modules["mailbox"], "__path__"):
    del sys.modules["mailbox"]

import httpx  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from dispatch import free_port, seed  # noqa: E402

BOUNDARY = "benchboundary7d2f"


def memory_mib(pid: int) -> dict[str, float]:
    """The process's resident set now and at its peak, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": fields["VmRSS"], "peak_rss_mib": fields["VmHWM"]}


def multipart_body(mib: int) -> bytes:
    """A dispatch form whose ``title`` is ``mib`` MiB of text (and no PDF)."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n').encode()
    return head + b"a" * (mib * 1024 * 1024) + f"\r\n--{BOUNDARY}--\r\n".encode()


async def wave(base: str, body: bytes, requests: int, headers: dict[str, str]) -> dict:
    """``requests`` concurrent uploads of ``body``; each answer's status (or how it failed)."""
    content_type = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **headers}

    async def one(http: httpx.AsyncClient) -> str:
        try:
            answer = await http.post("/api/v1/dispatches", content=body, headers=content_type)
        except httpx.HTTPError as exc:  # the server may answer and close before it all arrived
            return type(exc).__name__
        return str(answer.status_code)

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        outcomes = await asyncio.gather(*(one(http) for _ in range(requests)))
    return {"answers": dict(Counter(outcomes)), "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--mib", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mailbox-bench-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "MAILBOX_DATA_DIR": tmp,
            "MAILBOX_PORT": str(port),
            "MAILBOX_SCHEDULER_ENABLED": "false",
            "MAILBOX_LOG_LEVEL": "WARNING",
            "MAILBOX_SEALING_WORKERS": "0",
            "MAILBOX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        subprocess.run(
            [sys.executable, "-m", "mailbox", "init"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        _, email, password = asyncio.run(seed(env))
        server = subprocess.Popen(
            [sys.executable, "-m", "mailbox", "serve"], cwd=ROOT, env=env, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"grant_type": "password", "username": email, "password": password},
            ).json()["access_token"]
            body = multipart_body(args.mib)
            before = memory_mib(server.pid)
            anonymous = asyncio.run(wave(base, body, args.requests, {}))
            after_anonymous = memory_mib(server.pid)
            dispatcher = asyncio.run(
                wave(base, body, args.requests, {"Authorization": f"Bearer {token}"})
            )
            after_dispatcher = memory_mib(server.pid)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    print(
        json.dumps(
            {
                "machine_cores": os.cpu_count(),
                "requests": args.requests,
                "text_field_mib": args.mib,
                "before": before,
                "anonymous": {**anonymous, "after": after_anonymous},
                "rise_anonymous_mib": round(after_anonymous["rss_mib"] - before["rss_mib"], 1),
                "dispatcher": {**dispatcher, "after": after_dispatcher},
                "rise_dispatcher_mib": round(
                    after_dispatcher["rss_mib"] - after_anonymous["rss_mib"], 1
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
