"""office mailboxes: an account may be an office's own mailbox (office-to-office deliveries)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:45:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """``account.office_id``: the office whose mailbox the account is (NULL for applicants);
    at most one mailbox per office."""
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.create_index("ix_account_office_id", ["office_id"], unique=True)
        batch_op.create_foreign_key("fk_account_office_id_office", "office", ["office_id"], ["id"])


def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_constraint("fk_account_office_id_office", type_="foreignkey")
        batch_op.drop_index("ix_account_office_id")
        batch_op.drop_column("office_id")
