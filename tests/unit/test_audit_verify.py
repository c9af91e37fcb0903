"""`python -m mailbox audit verify` detects a modified, a deleted, a reordered and a cut-off
evidence record, and names the first broken one; and a signed checkpoint whose root was altered
or whose signature was swapped, naming the first bad checkpoint."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import text

from mailbox.evidence.checkpoints import make_checkpoint
from mailbox.services import Services
from tests.factories import make_world, post_dispatch, token_for

ROOT = Path(__file__).resolve().parents[2]


async def _three_deliveries(client: AsyncClient, services: Services) -> None:
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    for n in range(3):
        response = await post_dispatch(client, headers, world.account.id, dossier_number=f"EP{n}")
        assert response.status_code == 201


async def _verify(services: Services, command: str = "verify") -> tuple[int, dict]:
    """Run `python -m mailbox --json audit verify` (or another audit command) as an operator
    would."""
    env = {
        **os.environ,
        "MAILBOX_DATABASE_URL": services.settings.effective_database_url,
        "MAILBOX_KEY_DIR": str(services.settings.effective_key_dir),
        "MAILBOX_DATA_DIR": str(services.settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailbox",
        "--json",
        "audit",
        command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert stdout.startswith(b"{"), stderr.decode()
    return process.returncode or 0, json.loads(stdout)


async def _tamper(services: Services, *statements: str) -> None:
    async with services.db.session() as session:
        for statement in statements:
            await session.execute(text(statement))


async def test_verify_passes_on_an_untouched_log(client: AsyncClient, services: Services) -> None:
    await _three_deliveries(client, services)
    made_code, made = await _verify(services, "checkpoint")
    code, report = await _verify(services)
    assert made_code == 0
    assert made["made"] is True
    assert made["checkpoint"]["seq"] == 6
    assert code == 0
    assert report == {"ok": True, "checked": 6, "checkpoints_checked": 1}


@pytest.mark.parametrize(
    ("statements", "first_broken_seq", "reason_fragment"),
    [
        (["UPDATE evidence SET actor = 'user:someone-else' WHERE seq = 3"], 3, "changed"),
        (["DELETE FROM evidence WHERE seq = 3"], 3, "missing"),
        (["DELETE FROM evidence WHERE seq = 1"], 1, "missing"),
        (
            [
                "UPDATE evidence SET seq = 100 WHERE seq = 3",
                "UPDATE evidence SET seq = 3 WHERE seq = 4",
                "UPDATE evidence SET seq = 4 WHERE seq = 100",
            ],
            3,
            "",
        ),
        (["DELETE FROM evidence WHERE seq = 6"], 6, "removed from the end"),
        (
            [
                "UPDATE evidence SET occurred_at = occurred_at WHERE seq = 1",
                "UPDATE evidence SET details = '{}' WHERE seq = 2",
            ],
            2,
            "changed",
        ),
    ],
    ids=["modified", "deleted", "first-deleted", "reordered", "truncated", "details-rewritten"],
)
async def test_verify_names_the_first_broken_record(
    client: AsyncClient,
    services: Services,
    statements: list[str],
    first_broken_seq: int,
    reason_fragment: str,
) -> None:
    await _three_deliveries(client, services)
    await _tamper(services, *statements)
    code, report = await _verify(services)
    assert code == 1
    assert report["ok"] is False
    assert report["first_broken"]["seq"] == first_broken_seq
    assert reason_fragment in report["first_broken"]["reason"]
    assert report["checked"] == first_broken_seq - 1


async def test_verify_detects_a_forged_rehashed_record(
    client: AsyncClient, services: Services
) -> None:
    """An attacker who recomputes the hash chain still cannot forge the evidence signature."""
    import hashlib

    from sqlmodel import select

    from mailbox.evidence.log import canonical_bytes
    from mailbox.models import EvidenceRecord

    await _three_deliveries(client, services)
    async with services.db.session() as session:
        records = (await session.exec(select(EvidenceRecord).order_by(EvidenceRecord.seq))).all()
        prev = records[4].record_hash
        last = records[5]
        last.actor = "user:forger"
        last.prev_hash = prev
        last.record_hash = hashlib.sha256(canonical_bytes(last)).hexdigest()
        session.add(last)
        head_hash = last.record_hash
        await session.execute(text("UPDATE evidence_head SET record_hash = :h"), {"h": head_hash})
    code, report = await _verify(services)
    assert code == 1
    assert report["first_broken"]["seq"] == 6
    assert "signature" in report["first_broken"]["reason"]


async def _checkpoints_at(services: Services, client: AsyncClient, *sizes: int) -> None:
    """Dispatch one delivery after another (two records each), signing a checkpoint whenever
    the log reaches one of ``sizes``."""
    world = await make_world(services)
    headers = await token_for(client, world.dispatcher)
    for n in range(max(sizes) // 2):
        response = await post_dispatch(client, headers, world.account.id, dossier_number=f"EP{n}")
        assert response.status_code == 201
        if 2 * (n + 1) in sizes:
            assert await make_checkpoint(services) is not None


@pytest.mark.parametrize(
    ("statements", "reason_fragment"),
    [
        (
            ["UPDATE evidence_checkpoint SET root_hash = '" + "ab" * 32 + "' WHERE seq = 4"],
            "root differs from the Merkle root of records 1 to 4",
        ),
        (
            [
                "UPDATE evidence_checkpoint SET signature = "
                "(SELECT signature FROM evidence_checkpoint WHERE seq = 2) WHERE seq = 4"
            ],
            "signature does not verify",
        ),
    ],
    ids=["root-altered", "signature-swapped"],
)
async def test_verify_names_the_first_bad_checkpoint(
    client: AsyncClient, services: Services, statements: list[str], reason_fragment: str
) -> None:
    await _checkpoints_at(services, client, 2, 4, 6)
    await _tamper(services, *statements)

    code, report = await _verify(services)

    assert code == 1
    assert report["ok"] is False
    assert report["checked"] == 6  # the records themselves are intact
    assert report["checkpoints_checked"] == 1
    assert report["first_bad_checkpoint"]["seq"] == 4
    assert reason_fragment in report["first_bad_checkpoint"]["reason"]
