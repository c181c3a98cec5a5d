"""camera health: per recorded counter its state, last frame, fps and bitrate; recording gaps

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import database.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_health',
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_since', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_frame_at', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fps', sa.Double(), nullable=True),
    sa.Column('bitrate_kbps', sa.Double(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('stream', sa.String(length=255), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.Column('updated_at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('pharmacy_id', 'counter_id')
    )
    op.create_table('camera_gaps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('start', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end', database.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_camera_gaps_counter_start', 'camera_gaps', ['pharmacy_id', 'counter_id', 'start'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_camera_gaps_counter_start', table_name='camera_gaps')
    op.drop_table('camera_gaps')
    op.drop_table('camera_health')
