"""records: purchases, stock counts, sold traceability codes, pharmacy coordinates

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import database.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pharmacies') as batch:
        batch.add_column(sa.Column('lat', sa.Double(), nullable=True))
        batch.add_column(sa.Column('lon', sa.Double(), nullable=True))
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('received_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('supplier', sa.String(length=255), nullable=False),
    sa.Column('invoice_no', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pharmacy_id', 'item_code', 'received_at', 'invoice_no', name='uq_purchases_line')
    )
    op.create_table('stock_counts',
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('counted_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('pharmacy_id', 'item_code', 'counted_at')
    )
    op.create_table('sold_trace_codes',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code', 'settlement_id', 'line_no')
    )
    op.create_index('ix_sold_trace_codes_settlement', 'sold_trace_codes', ['settlement_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sold_trace_codes_settlement', table_name='sold_trace_codes')
    op.drop_table('sold_trace_codes')
    op.drop_table('stock_counts')
    op.drop_table('purchases')
    with op.batch_alter_table('pharmacies') as batch:
        batch.drop_column('lon')
        batch.drop_column('lat')
