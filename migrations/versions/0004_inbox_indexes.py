"""inbox indexes: unread deliveries, dossier in inbox order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:05:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UNREAD = sa.text('picked_up_at IS NULL')


def upgrade() -> None:
    """A page of unread deliveries reads only unread index entries; a dossier filter reads its
    few deliveries already newest first instead of scanning the whole inbox."""
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(
            'ix_delivery_unread',
            ['account_id', 'available_at', 'id'],
            unique=False,
            sqlite_where=UNREAD,
            postgresql_where=UNREAD,
        )
        batch_op.drop_index('ix_delivery_dossier')
        batch_op.create_index(
            'ix_delivery_dossier',
            ['account_id', 'dossier_number', 'available_at', 'id'],
            unique=False,
        )


def downgrade() -> None:
    """Back to the indexes of 0001."""
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_dossier')
        batch_op.create_index('ix_delivery_dossier', ['account_id', 'dossier_number'], unique=False)
        batch_op.drop_index('ix_delivery_unread')
