"""A counting SMTP sink for benchmarks: an aiosmtpd server on 127.0.0.1 that accepts every
message, keeps nothing but a count, and prints the count as JSON when it gets SIGTERM.

    python bench/smtp_sink.py --port 2525

It runs in a process of its own so that the server's work does not share the benchmarked
process's event loop. It must not import our `mailbox` package (nor aiosmtpd's `handlers`
module, which imports the standard-library `mailbox` that ours would shadow).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingHandler:
    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages += 1
        return "250 Message accepted"


async def serve(port: int) -> int:
    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="127.0.0.1"), host="127.0.0.1", port=port
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    return handler.messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    received = asyncio.run(serve(args.port))
    json.dump({"received": received}, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
