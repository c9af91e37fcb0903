"""paper letters: the letter of each paper delivery, print batches, retrieval codes and the
wrong codes entered (throttle); the office's return address

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 09:35:29.297812

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import mailbox.db  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = "0018"
down_revision: Union[str, Sequence[str], None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """paper_letter, print_batch, retrieval_code, retrieval_failure; office.postal_address."""
    op.create_table('retrieval_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('at', mailbox.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retrieval_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrieval_failure_at'), ['at'], unique=False)
        batch_op.create_index('ix_retrieval_failure_key_at', ['key', 'at'], unique=False)

    op.create_table('print_batch',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('office_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('letters', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('blob_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('manifest_blob_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', mailbox.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('print_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_batch_blob_id'), ['blob_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_batch_manifest_blob_id'), ['manifest_blob_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_batch_office_id'), ['office_id'], unique=False)

    op.create_table('paper_letter',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('office_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('blob_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('created_at', mailbox.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('batch_position', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['print_batch.id'], ),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('delivery_id')
    )
    with op.batch_alter_table('paper_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_letter_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_paper_letter_blob_id'), ['blob_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_paper_letter_office_id'), ['office_id'], unique=False)

    op.create_table('retrieval_code',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', mailbox.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', mailbox.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('redeemed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('account_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('first_opened_at', mailbox.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash'),
    sa.UniqueConstraint('delivery_id')
    )
    with op.batch_alter_table('retrieval_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrieval_code_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('office', schema=None) as batch_op:
        batch_op.add_column(sa.Column('postal_address', sqlmodel.sql.sqltypes.AutoString(length=1000), server_default='', nullable=False))



def downgrade() -> None:
    """Back to 0011."""
    with op.batch_alter_table('office', schema=None) as batch_op:
        batch_op.drop_column('postal_address')

    with op.batch_alter_table('retrieval_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retrieval_code_account_id'))

    op.drop_table('retrieval_code')
    with op.batch_alter_table('paper_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_letter_office_id'))
        batch_op.drop_index(batch_op.f('ix_paper_letter_blob_id'))
        batch_op.drop_index(batch_op.f('ix_paper_letter_batch_id'))

    op.drop_table('paper_letter')
    with op.batch_alter_table('print_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_batch_office_id'))
        batch_op.drop_index(batch_op.f('ix_print_batch_manifest_blob_id'))
        batch_op.drop_index(batch_op.f('ix_print_batch_blob_id'))

    op.drop_table('print_batch')
    with op.batch_alter_table('retrieval_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_retrieval_failure_key_at')
        batch_op.drop_index(batch_op.f('ix_retrieval_failure_at'))

    op.drop_table('retrieval_failure')
