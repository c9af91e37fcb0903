"""Access tokens per second for a machine client: a private_key_jwt assertion signed by the
client (ES256, with its key's kid) exchanged at POST /api/v1/auth/token, through the real
litestar app in this process on a fresh demo install (SQLite), one request after another.
The floor in the same run: the bare cryptography of one exchange (sign the assertion, verify
it, sign the access token) without HTTP or database. Prints one JSON object.

    .venv/bin/python bench/tokens.py [--tokens 500]
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
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbox.api.app import create_app  # noqa: E402
from mailbox.clock import now  # noqa: E402
from mailbox.config import Settings  # noqa: E402
from mailbox.identity.clients import ASSERTION_TYPE, register_client  # noqa: E402
from mailbox.models import Account, Role  # noqa: E402
from mailbox.services import Services  # noqa: E402
from tests.fixtures.machine_client import ClientKey  # noqa: E402

BASE = "http://bench"


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


def assertion(key: ClientKey, client_id: str) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{BASE}/api/v1/auth/token",
        "exp": int((now() + timedelta(seconds=120)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private, algorithm="ES256", headers={"kid": key.kid})


async def measure(data_dir: Path, tokens: int) -> dict[str, object]:
    from sqlmodel import select

    settings = Settings(
        data_dir=data_dir, sealing_workers=0, scheduler_enabled=False, public_base_url=BASE
    )
    services = Services.start(settings)
    key = ClientKey()
    try:
        async with services.db.write() as session:
            account = (await session.exec(select(Account))).first()
            assert account is not None
            view = await register_client(
                session=session,
                signer=services.evidence,
                name="Bench system",
                role=Role.VIEWER,
                public_key_pem=key.public_pem,
                account_id=account.id,
                scopes=["inbox:read", "documents:read"],
            )
        client_id = view.client.id
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:

            async def one() -> None:
                response = await http.post(
                    "/api/v1/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": assertion(key, client_id),
                    },
                )
                response.raise_for_status()

            for _ in range(20):  # warm up
                await one()
            started = time.perf_counter()
            for _ in range(tokens):
                await one()
            elapsed = time.perf_counter() - started
    finally:
        await services.close()
    return {
        "tokens": tokens,
        "seconds": round(elapsed, 3),
        "tokens_per_second": round(tokens / elapsed, 1),
    }


def floor(rounds: int, issuer_keys: Path) -> dict[str, object]:
    """Sign an assertion, verify it with the public key, sign an access token: no HTTP, no
    database."""
    from mailbox.identity.auth import TokenIssuer
    from mailbox.signing.pki import load_key_material

    issuer = TokenIssuer(
        load_key_material(issuer_keys), audience="mailbox-api", ttl_seconds=900, issuer=BASE
    )
    key = ClientKey()
    public = key.private.public_key()
    started = time.perf_counter()
    for _ in range(rounds):
        signed = assertion(key, "cli_x")
        jwt.decode(signed, public, algorithms=["ES256"], audience=f"{BASE}/api/v1/auth/token")
        issuer.issue("cli_x", kind="client", scope="inbox:read")
    elapsed = time.perf_counter() - started
    return {"rounds": rounds, "per_second": round(rounds / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=500)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        demo_install(data_dir)
        http = asyncio.run(measure(data_dir, args.tokens))
        bare = floor(args.tokens, data_dir / "keys")
    print(
        json.dumps(
            {
                "benchmark": "machine client tokens (private_key_jwt -> access token)",
                "backend": "sqlite",
                "http_in_process": http,
                "floor_crypto_only": bare,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
