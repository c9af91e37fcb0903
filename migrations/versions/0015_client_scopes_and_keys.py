"""machine clients: scopes, a JWKS URL, who registered them, revocation time; their keys in
a table of their own (two at once during a rollover)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 09:40:00.000000

"""

import base64
import hashlib
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The scopes a client of each role had before scopes existed: all its role allows (as
# mailbox.identity.policy.scopes_allowed says at this revision), so that no system breaks.
_SCOPES_BY_ROLE = {
    "owner": ["documents:read", "events:read", "evidence:read", "inbox:read", "webhooks:manage"],
    "editor": ["documents:read", "events:read", "evidence:read", "inbox:read"],
    "viewer": ["documents:read", "events:read", "evidence:read", "inbox:read"],
    "dispatcher": [
        "dispatch:write",
        "events:read",
        "evidence:read",
        "inbox:read",
        "webhooks:manage",
    ],
    "auditor": ["events:read", "evidence:read", "inbox:read"],
}
_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def _thumbprint(jwk: dict) -> str:
    members = {name: jwk[name] for name in _MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def upgrade() -> None:
    """Keys move from ``api_client.public_jwk`` to ``api_client_key`` (kid: RFC 7638
    thumbprint); existing clients get every scope their role allows."""
    op.create_table(
        "api_client_key",
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_client.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "kid"),
    )
    with op.batch_alter_table("api_client_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_client_key_client_id"), ["client_id"], unique=False
        )
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("jwks_url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )
        batch_op.add_column(
            sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("revoked_at", mailbox.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_api_client_created_by_user", "user", ["created_by"], ["id"]
        )
    connection = op.get_bind()
    clients = sa.table(
        "api_client",
        sa.column("id", sa.String),
        sa.column("role", sa.String),
        sa.column("public_jwk", sa.JSON),
        sa.column("created_at", mailbox.db.UTCDateTime(timezone=True)),
        sa.column("scopes", sa.JSON),
    )
    keys = sa.table(
        "api_client_key",
        sa.column("id", sa.String),
        sa.column("client_id", sa.String),
        sa.column("kid", sa.String),
        sa.column("public_jwk", sa.JSON),
        sa.column("created_at", mailbox.db.UTCDateTime(timezone=True)),
    )
    for row in connection.execute(
        sa.select(clients.c.id, clients.c.role, clients.c.public_jwk, clients.c.created_at)
    ).all():
        jwk = row.public_jwk if isinstance(row.public_jwk, dict) else json.loads(row.public_jwk)
        kid = _thumbprint(jwk)
        connection.execute(
            keys.insert().values(
                id=f"key_{row.id}",
                client_id=row.id,
                kid=kid,
                public_jwk={**jwk, "kid": kid},
                created_at=row.created_at,
            )
        )
        connection.execute(
            clients.update()
            .where(clients.c.id == row.id)
            .values(scopes=_SCOPES_BY_ROLE.get(row.role, []))
        )
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.alter_column("scopes", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("public_jwk")


def downgrade() -> None:
    """Back to 0011: each client keeps its oldest key; scopes, JWKS URLs and second keys are
    lost (a JWKS URL client cannot be expressed there and is deleted)."""
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_jwk", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT client_id, public_jwk FROM api_client_key ORDER BY created_at DESC")
    ).all()
    for client_id, jwk in rows:  # oldest last, so it is the one kept
        connection.execute(
            sa.text("UPDATE api_client SET public_jwk = :jwk WHERE id = :id"),
            {"jwk": jwk if isinstance(jwk, str) else json.dumps(jwk), "id": client_id},
        )
    connection.execute(sa.text("DELETE FROM client_assertion_use WHERE client_id IN "
                               "(SELECT id FROM api_client WHERE public_jwk IS NULL)"))
    connection.execute(sa.text("DELETE FROM api_client WHERE public_jwk IS NULL"))
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.alter_column("public_jwk", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_constraint("fk_api_client_created_by_user", type_="foreignkey")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("created_by")
        batch_op.drop_column("jwks_url")
        batch_op.drop_column("scopes")
    with op.batch_alter_table("api_client_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_client_key_client_id"))
    op.drop_table("api_client_key")
