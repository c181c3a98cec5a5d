"""recorder: the camera's own time (RTCP sender reports) per counter, and the keyframes before and
after a tamper span (evidence-relative JPEG paths)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import database.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pharmacy_id', sa.String(length=64), nullable=False),
    sa.Column('counter_id', sa.String(length=64), nullable=False),
    sa.Column('at', database.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('camera_minus_recorder_s', sa.Double(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_camera_clock_counter_at', 'camera_clock', ['pharmacy_id', 'counter_id', 'at'],
                    unique=False)
    with op.batch_alter_table('camera_tamper') as batch:
        batch.add_column(sa.Column('keyframe_before', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('keyframe_after', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('keyframe_back', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('camera_tamper') as batch:
        batch.drop_column('keyframe_back')
        batch.drop_column('keyframe_after')
        batch.drop_column('keyframe_before')
    op.drop_index('ix_camera_clock_counter_at', table_name='camera_clock')
    op.drop_table('camera_clock')
