"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import database.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settlements_file', sa.Text(), nullable=False),
    sa.Column('videos', sa.Text(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('settlements',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('settled_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('card_hash', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('settlement_id')
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_card_hash'), ['card_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlements_pharmacy_id'), ['pharmacy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlements_settled_at'), ['settled_at'], unique=False)

    op.create_table('checks',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('seen', sa.JSON(), nullable=False),
    sa.Column('checked_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['audit_runs.id'], ),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('settlement_id')
    )
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checks_status'), ['status'], unique=False)

    op.create_table('face_signatures',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('card_hash', sa.String(length=64), nullable=False),
    sa.Column('settled_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('encoding', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('settlement_id')
    )
    with op.batch_alter_table('face_signatures', schema=None) as batch_op:
        batch_op.create_index('ix_face_signatures_settled_at', ['settled_at'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('review_status', sa.String(length=16), nullable=False),
    sa.Column('created_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('settlement_id', 'kind', name='uq_flags_settlement_kind')
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_review_status'), ['review_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_settlement_id'), ['settlement_id'], unique=False)

    op.create_table('rejected_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['audit_runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rejected_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_rows_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rejected_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_rows_run_id'))

    op.drop_table('rejected_rows')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_settlement_id'))
        batch_op.drop_index(batch_op.f('ix_flags_review_status'))
        batch_op.drop_index(batch_op.f('ix_flags_kind'))

    op.drop_table('flags')
    with op.batch_alter_table('face_signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_face_signatures_settled_at')

    op.drop_table('face_signatures')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checks_status'))

    op.drop_table('checks')
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlements_settled_at'))
        batch_op.drop_index(batch_op.f('ix_settlements_pharmacy_id'))
        batch_op.drop_index(batch_op.f('ix_settlements_card_hash'))

    op.drop_table('settlements')
    op.drop_table('audit_runs')
