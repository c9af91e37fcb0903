"""legal clock rules: the rule chosen per office and document kind, and the rule a delivery
was consigned under, in which time zone; the office's time zone

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:40:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The office's choice of legal-clock rule per document kind ("*": every kind), and on
    each delivery the rule id and days it was consigned under (NULL before this revision)."""
    op.create_table(
        "clock_rule_choice",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["office_id"], ["office.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("office_id", "kind_code"),
    )
    with op.batch_alter_table("clock_rule_choice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clock_rule_choice_office_id"), ["office_id"], unique=False
        )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("clock_rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("clock_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("clock_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    with op.batch_alter_table("office", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "time_zone",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                server_default="UTC",
                nullable=False,
            )
        )


def downgrade() -> None:
    """Back to 0010."""
    with op.batch_alter_table("office", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("clock_zone")
        batch_op.drop_column("clock_days")
        batch_op.drop_column("clock_rule")
    with op.batch_alter_table("clock_rule_choice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clock_rule_choice_office_id"))
    op.drop_table("clock_rule_choice")
