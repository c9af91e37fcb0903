"""retention and purge: per office/kind retention periods, purged content on deliveries,
shredded blobs on documents

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:14:38.047204

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """How long content and evidence are kept per office and document kind; when a delivery's
    content was purged (and why); when a document's blob was crypto-shredded."""
    op.create_table('retention_policy',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('office_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('document_days', sa.Integer(), nullable=True),
    sa.Column('evidence_days', sa.Integer(), nullable=True),
    sa.Column('updated_at', mailbox.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('office_id', 'kind_code')
    )
    with op.batch_alter_table('retention_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_policy_office_id'), ['office_id'], unique=False)

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_purged_at', mailbox.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('content_purge_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))

    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blob_shredded_at', mailbox.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    """Back to 0005."""
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_column('blob_shredded_at')

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('content_purge_reason')
        batch_op.drop_column('content_purged_at')

    with op.batch_alter_table('retention_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_policy_office_id'))

    op.drop_table('retention_policy')
