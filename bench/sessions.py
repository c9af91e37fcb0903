"""Database sessions opened per request: a dispatch (with and without an Idempotency-Key, and
its replay), a delivery read, an inbox page and a pickup, through the real litestar app in this
process on a fresh demo install (SQLite).

Every unit of work the service opens goes through ``Database`` (``session()`` or ``write()``);
this counts them by wrapping its session factory, so the figure includes the session that
loads the caller's principal. Prints one JSON object.

    .venv/bin/python bench/sessions.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pyotp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbox.api.app import create_app  # noqa: E402
from mailbox.config import Settings  # noqa: E402
from mailbox.operations.demo import DEMO_TOTP_SECRETS  # noqa: E402
from mailbox.services import Services  # noqa: E402

DISPATCHER = ("dispatcher@demo.test", "dispatcher-demo-1")
APPLICANT = ("applicant@demo.test", "applicant-demo-1")


class SessionCounter:
    """Wraps a session factory and counts the sessions it opens."""

    def __init__(self, factory: object) -> None:
        self.factory = factory
        self.opened = 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.opened += 1
        return self.factory(*args, **kwargs)  # type: ignore[operator]


def demo_install(data_dir: Path) -> None:
    env = {**os.environ, "MAILBOX_DATA_DIR": str(data_dir), "MAILBOX_SEALING_WORKERS": "0"}
    env["MAILBOX_EMAIL_PICKUP_DIR"] = str(data_dir / "outgoing-mail")
    subprocess.run(
        [sys.executable, "-m", "mailbox", "demo", "--no-serve"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


async def token(
    http: httpx.AsyncClient, who: tuple[str, str], totp_secret: str | None = None
) -> dict[str, str]:
    form = {"grant_type": "password", "username": who[0], "password": who[1]}
    if totp_secret:  # the demo's dispatcher logs in with a second factor
        form["totp"] = pyotp.TOTP(totp_secret).now()
    response = await http.post("/api/v1/auth/token", data=form)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def measure(data_dir: Path, repeat: int) -> dict[str, float]:
    from mailbox.operations.demo import demo_pdf

    settings = Settings(data_dir=data_dir, sealing_workers=0, scheduler_enabled=False)
    services = Services.start(settings)
    counter = SessionCounter(services.db._sessions)
    services.db._sessions = counter  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=create_app(services=services))
    figures: dict[str, list[int]] = {}

    async def count(name: str, request: object) -> httpx.Response:
        before = counter.opened
        response = await request  # type: ignore[misc]
        response.raise_for_status()
        figures.setdefault(name, []).append(counter.opened - before)
        return response

    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            office = await token(http, DISPATCHER, DEMO_TOTP_SECRETS["dispatcher"])
            applicant = await token(http, APPLICANT)
            inbox = (await http.get("/api/v1/inbox", headers=applicant)).json()
            account = inbox["items"][0]["account_id"]
            for n in range(repeat):
                form = {
                    "recipient_account_id": account,
                    "kind_code": "R71",
                    "dossier_number": f"EP{n}",
                    "title": "Bench",
                }
                files = {"file": ("b.pdf", demo_pdf(f"Bench {n}"), "application/pdf")}
                await count(
                    "dispatch",
                    http.post("/api/v1/dispatches", headers=office, data=form, files=files),
                )
                keyed = {**office, "Idempotency-Key": f"bench-{n}"}
                form["dossier_number"] = f"EPK{n}"
                created = await count(
                    "dispatch_with_idempotency_key",
                    http.post("/api/v1/dispatches", headers=keyed, data=form, files=files),
                )
                await count(
                    "dispatch_replayed",
                    http.post("/api/v1/dispatches", headers=keyed, data=form, files=files),
                )
                delivery = created.json()["id"]
                await count(
                    "delivery_read", http.get(f"/api/v1/deliveries/{delivery}", headers=applicant)
                )
                await count("inbox_page", http.get("/api/v1/inbox", headers=applicant))
                await count(
                    "pickup",
                    http.get(f"/api/v1/deliveries/{delivery}/document", headers=applicant),
                )
    finally:
        await services.close()
    return {name: sum(values) / len(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        demo_install(data_dir)
        sessions = asyncio.run(measure(data_dir, args.repeat))
    print(json.dumps({"sessions_per_request": sessions, "repeat": args.repeat}, indent=2))


if __name__ == "__main__":
    main()
