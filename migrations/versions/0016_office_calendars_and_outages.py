"""office calendars and outages: each office's calendar of closed days (country, subdivision,
its own closed days), the calendar and outages a delivery's legal date was decided with, and
the certified outages of the service or of one office

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 09:40:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: Union[str, Sequence[str], None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The outage table; the office's calendar; on each delivery the calendar it was consigned
    with and the outages applied to it (NULL before this revision: no calendar, no outage)."""
    op.create_table(
        "outage",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("starts_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("affected", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("recorded_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "certificate_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_pdf", sa.LargeBinary(), nullable=False),
        sa.Column("deliveries_touched", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["office_id"], ["office.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outage_office_id"), ["office_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outage_starts_at"), ["starts_at"], unique=False)
    with op.batch_alter_table("office", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "calendar_subdivision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
            )
        )
        batch_op.add_column(sa.Column("closed_days", sa.JSON(), nullable=True))
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_calendar", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("clock_outages", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("clock_outages")
        batch_op.drop_column("clock_calendar")
    with op.batch_alter_table("office", schema=None) as batch_op:
        batch_op.drop_column("closed_days")
        batch_op.drop_column("calendar_subdivision")
        batch_op.drop_column("calendar_country")
    with op.batch_alter_table("outage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outage_starts_at"))
        batch_op.drop_index(batch_op.f("ix_outage_office_id"))
    op.drop_table("outage")
