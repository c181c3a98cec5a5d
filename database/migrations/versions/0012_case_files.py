"""case files: reviewers' full name and badge number, pharmacies' operator and address, case numbers

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('badge_no', sa.String(length=32), nullable=True))
    with op.batch_alter_table('pharmacies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operator', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=255), nullable=True))
    op.create_table('case_numbers',
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('case_no', sa.String(length=96), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('flag_id'),
    sa.UniqueConstraint('case_no'),
    sa.UniqueConstraint('district', 'year', 'seq', name='uq_case_numbers_seq')
    )


def downgrade() -> None:
    op.drop_table('case_numbers')
    with op.batch_alter_table('pharmacies', schema=None) as batch_op:
        batch_op.drop_column('address')
        batch_op.drop_column('operator')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('badge_no')
        batch_op.drop_column('full_name')
