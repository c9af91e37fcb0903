"""office-to-office transmissions (packages, hops, hubs' forwarding rules, expected items)
and data documents (a media type and a detached seal per document)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 13:02:38.356207

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0020"
down_revision: Union[str, Sequence[str], None] = "0019"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Transmissions with their documents and hops, the hubs' forwarding rules and expected
    items; each document's media type (existing ones are PDFs) and detached seal."""
    op.create_table(
        "expected_item",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hub_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sender_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "international_application_number",
            sqlmodel.sql.sqltypes.AutoString(length=17),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("uploaded_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hub_office_id"],
            ["office.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "hub_office_id", "sender_code", "kind", "international_application_number"
        ),
    )
    with op.batch_alter_table("expected_item", schema=None) as batch_op:
        batch_op.create_index("ix_expected_item_due", ["hub_office_id", "due_on"], unique=False)

    op.create_table(
        "forwarding_rule",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hub_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("changed_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hub_office_id"],
            ["office.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hub_office_id", "kind"),
    )
    op.create_table(
        "transmission",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sender_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("final_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hub_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column(
            "international_application_number",
            sqlmodel.sql.sqltypes.AutoString(length=17),
            nullable=False,
        ),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sender_reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("package_document_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("created_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["final_office_id"],
            ["office.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hub_office_id"],
            ["office.id"],
        ),
        sa.ForeignKeyConstraint(
            ["package_document_id"],
            ["document.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sender_office_id"],
            ["office.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transmission", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transmission_final", ["final_office_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_transmission_hub", ["hub_office_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_transmission_sender", ["sender_office_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "transmission_document",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("transmission_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transmission_id"],
            ["transmission.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transmission_id", "position"),
    )
    with op.batch_alter_table("transmission_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transmission_document_transmission_id"),
            ["transmission_id"],
            unique=False,
        )

    op.create_table(
        "transmission_hop",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("transmission_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("from_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("to_office_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("delivered_at", mailbox.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("forwarded_at", mailbox.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forwarded_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
        ),
        sa.ForeignKeyConstraint(
            ["from_office_id"],
            ["office.id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_office_id"],
            ["office.id"],
        ),
        sa.ForeignKeyConstraint(
            ["transmission_id"],
            ["transmission.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_id"),
        sa.UniqueConstraint("transmission_id", "number"),
    )
    with op.batch_alter_table("transmission_hop", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transmission_hop_transmission_id"), ["transmission_id"], unique=False
        )

    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "media_type",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                server_default="application/pdf",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("seal_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("seal_sha256")
        batch_op.drop_column("media_type")

    with op.batch_alter_table("transmission_hop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transmission_hop_transmission_id"))

    op.drop_table("transmission_hop")
    with op.batch_alter_table("transmission_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transmission_document_transmission_id"))

    op.drop_table("transmission_document")
    with op.batch_alter_table("transmission", schema=None) as batch_op:
        batch_op.drop_index("ix_transmission_sender")
        batch_op.drop_index("ix_transmission_hub")
        batch_op.drop_index("ix_transmission_final")

    op.drop_table("transmission")
    op.drop_table("forwarding_rule")
    with op.batch_alter_table("expected_item", schema=None) as batch_op:
        batch_op.drop_index("ix_expected_item_due")

    op.drop_table("expected_item")
