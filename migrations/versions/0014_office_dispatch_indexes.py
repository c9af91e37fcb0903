"""office dispatch indexes: an office's dispatches by status, dossier and recipient, those not
picked up yet and those on paper, each in list order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:45:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UNREAD = sa.text("picked_up_at IS NULL")
ON_PAPER = sa.text("paper_queued_at IS NOT NULL")
LIST_ORDER = ["submitted_at", "id"]


def upgrade() -> None:
    """A filtered page of an office's dispatches (newest first) reads only the index entries
    of its filter, already in list order, instead of every dispatch of the office."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        for name, column in (
            ("ix_delivery_office_status", "status"),
            ("ix_delivery_office_dossier", "dossier_number"),
            ("ix_delivery_office_account", "account_id"),
        ):
            batch_op.create_index(name, ["office_id", column, *LIST_ORDER], unique=False)
        for name, where in (
            ("ix_delivery_office_unread", UNREAD),
            ("ix_delivery_office_paper", ON_PAPER),
        ):
            batch_op.create_index(
                name,
                ["office_id", *LIST_ORDER],
                unique=False,
                sqlite_where=where,
                postgresql_where=where,
            )


def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        for name in (
            "ix_delivery_office_paper",
            "ix_delivery_office_unread",
            "ix_delivery_office_account",
            "ix_delivery_office_dossier",
            "ix_delivery_office_status",
        ):
            batch_op.drop_index(name)
