"""credentials epoch, revoked tokens, verification emails sent

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:40:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """A user's credentials epoch (a password change ends every token issued before), the
    tokens ended by a log-out, and the verification emails sent (to throttle resends)."""
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_epoch", sa.Integer(), nullable=False, server_default="0")
        )

    op.create_table(
        "revoked_token",
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("revoked_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revoked_token_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "verification_email_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_email_sent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_email_sent_at"), ["at"], unique=False)
        batch_op.create_index("ix_verification_email_sent_key_at", ["key", "at"], unique=False)


def downgrade() -> None:
    """Back to 0008."""
    with op.batch_alter_table("verification_email_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_email_sent_key_at")
        batch_op.drop_index(batch_op.f("ix_verification_email_sent_at"))
    op.drop_table("verification_email_sent")

    with op.batch_alter_table("revoked_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_token_expires_at"))
    op.drop_table("revoked_token")

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("credentials_epoch")
