"""office policy for PDFs with active content

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:40:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Each office says whether it accepts PDFs with active content (JavaScript, launch
    actions, embedded files, ...); existing offices, like new ones, reject them."""
    with op.batch_alter_table("office", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "active_content",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                server_default="reject",
                nullable=False,
            )
        )


def downgrade() -> None:
    """Back to 0005."""
    with op.batch_alter_table("office", schema=None) as batch_op:
        batch_op.drop_column("active_content")
