"""segment index and batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import database.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('segment_entries',
    sa.Column('store', sa.String(length=512), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('start', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('store', 'pharmacy_id', 'counter_id', 'name')
    )
    op.create_table('segment_listings',
    sa.Column('store', sa.String(length=512), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('listed_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('exists', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('store', 'pharmacy_id', 'counter_id')
    )
    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('settlements_file', sa.Text(), nullable=False),
    sa.Column('videos', sa.Text(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=True),
    sa.Column('created_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['audit_runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('batch_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('settlement_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('finished_at', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_id', 'seq', name='uq_batch_tasks_seq')
    )
    with op.batch_alter_table('batch_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_tasks_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_tasks_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('batch_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_tasks_status'))
        batch_op.drop_index(batch_op.f('ix_batch_tasks_batch_id'))

    op.drop_table('batch_tasks')
    op.drop_table('batches')
    op.drop_table('segment_listings')
    op.drop_table('segment_entries')
