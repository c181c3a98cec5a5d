"""verdict batches and undo: verdicts given together share a batch id; an undo names the verdict it
takes back (once: unique) and each verdict keeps the flag's status before it

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('verdicts') as batch:
        batch.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('undoes', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('prev_status', sa.String(length=16), nullable=True))
        batch.create_index('ix_verdicts_batch_id', ['batch_id'], unique=False)
        batch.create_index('ix_verdicts_user_id_id', ['user_id', 'id'], unique=False)
        batch.create_unique_constraint('uq_verdicts_undoes', ['undoes'])


def downgrade() -> None:
    with op.batch_alter_table('verdicts') as batch:
        batch.drop_constraint('uq_verdicts_undoes', type_='unique')
        batch.drop_index('ix_verdicts_user_id_id')
        batch.drop_index('ix_verdicts_batch_id')
        batch.drop_column('prev_status')
        batch.drop_column('undoes')
        batch.drop_column('batch_id')
