"""authentication throttles: used client assertions, failed log-ins

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:36:40.528122

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """A client assertion's jti is remembered until its exp so it gets one token only; failed
    password log-ins are counted per account and per client address to throttle guessing."""
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failure_at"), ["at"], unique=False)
        batch_op.create_index("ix_login_failure_key_at", ["key", "at"], unique=False)

    op.create_table(
        "client_assertion_use",
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("expires_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_client.id"],
        ),
        sa.PrimaryKeyConstraint("client_id", "jti"),
    )
    with op.batch_alter_table("client_assertion_use", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_assertion_use_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    """Back to 0004."""
    with op.batch_alter_table("client_assertion_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_assertion_use_expires_at"))

    op.drop_table("client_assertion_use")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failure_key_at")
        batch_op.drop_index(batch_op.f("ix_login_failure_at"))

    op.drop_table("login_failure")
