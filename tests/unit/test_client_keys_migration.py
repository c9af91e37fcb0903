"""Migration 0019 keeps every machine client working: its key moves to the key table under
its RFC 7638 thumbprint, and it gets every scope its role allows (what it could do before)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from mailbox.db import run_migrations
from mailbox.identity.clients import jwk_thumbprint
from mailbox.identity.policy import scopes_allowed


def test_existing_clients_keep_their_key_and_get_their_roles_scopes(tmp_path: Path) -> None:
    path = tmp_path / "mailbox.db"
    url = f"sqlite+aiosqlite:///{path}"
    run_migrations(url, "0011")
    jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=OFF")
        for client_id, role in (("cli_office", "dispatcher"), ("cli_account", "viewer")):
            db.execute(
                "INSERT INTO api_client (id, name, role, public_jwk, disabled, created_at) "
                "VALUES (?, 'x', ?, ?, 0, '2026-01-01 00:00:00.000000')",
                (client_id, role, json.dumps(jwk)),
            )
    run_migrations(url, "head")
    with sqlite3.connect(path) as db:
        scopes = dict(db.execute("SELECT id, scopes FROM api_client"))
        keys = list(db.execute("SELECT client_id, kid, public_jwk FROM api_client_key"))
    for client_id, role, office in (
        ("cli_office", "dispatcher", True),
        ("cli_account", "viewer", False),
    ):
        expected = sorted(s.value for s in scopes_allowed([role], on_office=office))
        assert json.loads(scopes[client_id]) == expected
    assert {(client_id, kid) for client_id, kid, _ in keys} == {
        ("cli_office", jwk_thumbprint(jwk)),
        ("cli_account", jwk_thumbprint(jwk)),
    }
    assert all(json.loads(stored)["x"] == jwk["x"] for _, _, stored in keys)


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
