"""live audit: the settlements inbox (pushed or pulled, claimed by live workers) and API key scopes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import database.models

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_settlements',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('settled_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('card_hash', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('received_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('lease_until', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('done_at', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('settlement_id')
    )
    op.create_index('ix_live_settlements_pharmacy_id', 'live_settlements', ['pharmacy_id'], unique=False)
    op.create_index('ix_live_settlements_settled_at', 'live_settlements', ['settled_at'], unique=False)
    op.create_index('ix_live_settlements_state_due', 'live_settlements', ['state', 'due_at'], unique=False)
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('scope', sa.String(length=16), nullable=False, server_default='read'))


def downgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('scope')
    op.drop_index('ix_live_settlements_state_due', table_name='live_settlements')
    op.drop_index('ix_live_settlements_settled_at', table_name='live_settlements')
    op.drop_index('ix_live_settlements_pharmacy_id', table_name='live_settlements')
    op.drop_table('live_settlements')
