"""verdicts: a structured dismissal reason and a bulk marker (the review UI)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('verdicts') as batch:
        batch.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('bulk', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('verdicts') as batch:
        batch.drop_column('bulk')
        batch.drop_column('reason')
