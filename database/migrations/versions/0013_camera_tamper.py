"""camera tamper spans: black, uniform, frozen or turned-away picture while the stream is up

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import database.models

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_tamper',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('what', sa.String(length=16), nullable=False),
    sa.Column('start', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_good_at', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_camera_tamper_counter_start', 'camera_tamper', ['pharmacy_id', 'counter_id', 'start'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_camera_tamper_counter_start', table_name='camera_tamper')
    op.drop_table('camera_tamper')
