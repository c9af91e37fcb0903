"""who gets paper: postal-only addressees (a dispatch to a postal address) and the code of the
reason a delivery went on paper

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:45:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """On an account: the office a postal-only addressee was made for, the key that finds it
    again (unique) and its structured address; on a delivery: the paper reason's code."""
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "postal_only_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("postal_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("postal_address_fields", sa.JSON(), nullable=True))
        batch_op.create_unique_constraint("uq_account_postal_key", ["postal_key"])
        batch_op.create_foreign_key(
            "fk_account_postal_only_office_id_office", "office", ["postal_only_office_id"], ["id"]
        )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "paper_reason_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
            )
        )


def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("paper_reason_code")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_constraint("fk_account_postal_only_office_id_office", type_="foreignkey")
        batch_op.drop_constraint("uq_account_postal_key", type_="unique")
        batch_op.drop_column("postal_address_fields")
        batch_op.drop_column("postal_key")
        batch_op.drop_column("postal_only_office_id")
