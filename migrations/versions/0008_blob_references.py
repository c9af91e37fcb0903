"""blob references: index document.sealed_sha256

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:20:00.000000

"""

from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The blob sweep asks, a batch of blob ids at a time, which ones a document references
    (a blob's id is its document's sealed_sha256): an index answers without a table scan."""
    op.create_index(
        op.f("ix_document_sealed_sha256"), "document", ["sealed_sha256"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_document_sealed_sha256"), table_name="document")
