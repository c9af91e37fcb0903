"""bulk dispatch: a batch of documents uploaded at once, and one row per manifest line

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 09:32:00.756437

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0019"
down_revision: Union[str, Sequence[str], None] = "0018"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The batches an office uploaded and the items of their manifests, each with what
    became of it (the delivery, or the problem that refused it)."""
    op.create_table(
        "dispatch_batch",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("manifest_format", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("created_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["office.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dispatch_batch", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispatch_batch_office", ["office_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "dispatch_batch_item",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("office_reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "recipient_account_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("kind_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("dossier_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("replayed", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["dispatch_batch.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "line"),
    )
    with op.batch_alter_table("dispatch_batch_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispatch_batch_item_pending", ["batch_id", "status", "line"], unique=False
        )


def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table("dispatch_batch_item", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_batch_item_pending")

    op.drop_table("dispatch_batch_item")
    with op.batch_alter_table("dispatch_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_batch_office")

    op.drop_table("dispatch_batch")
