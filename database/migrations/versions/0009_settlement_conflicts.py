"""settlement conflicts: rows whose settlement id is stored with other content, kept for admins

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('settlement_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('stored_run_id', sa.Integer(), nullable=True),
    sa.Column('fields', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['audit_runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_settlement_conflicts_run_id', 'settlement_conflicts', ['run_id'], unique=False)
    op.create_index('ix_settlement_conflicts_settlement_id', 'settlement_conflicts', ['settlement_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_settlement_conflicts_settlement_id', table_name='settlement_conflicts')
    op.drop_index('ix_settlement_conflicts_run_id', table_name='settlement_conflicts')
    op.drop_table('settlement_conflicts')
