"""document date: the date a dispatched document bears, as its office stated it, which the
legal clock reads under rules that count from it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 09:45:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0017"
down_revision: Union[str, Sequence[str], None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """On each delivery, the date its document bears (NULL: not stated, and before this
    revision)."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_date", sa.Date(), nullable=True))


def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("document_date")
