"""model lifecycle: registry versions, rollouts, gate verdicts, desired states

Revision ID: 0003_model_lifecycle
Revises: 0002_security
Create Date: 2026-11-27 00:00:00

Tables of hub/registry/models.py and hub/rollout/store.py.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003_model_lifecycle'
down_revision: str | None = '0002_security'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table('model_versions',
    sa.Column('name', _text(64), nullable=False),
    sa.Column('version', _text(64), nullable=False),
    sa.Column('bundle_sha256', _text(64), nullable=False),
    sa.Column('bundle_size', sa.BigInteger(), nullable=False),
    sa.Column('model_sha256', _text(64), nullable=False),
    sa.Column('signer_keyid', _text(64), nullable=False),
    sa.Column('target_path', _text(200), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('published_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('published_by', _text(64), nullable=False),
    sa.Column('deprecated', sa.Boolean(), nullable=False),
    sa.Column('deprecated_reason', _text(1000), nullable=False),
    sa.Column('deprecated_at_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('name', 'version')
    )
    op.create_table('rollouts',
    sa.Column('id', _text(64), nullable=False),
    sa.Column('model', _text(64), nullable=False),
    sa.Column('version', _text(64), nullable=False),
    sa.Column('phase', _text(16), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('rev', sa.Integer(), nullable=False),
    sa.Column('created_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_by', _text(64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollouts_model'), ['model'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollouts_phase'), ['phase'], unique=False)

    op.create_table('rollout_gates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rollout_id', _text(64), nullable=False),
    sa.Column('ts_ms', sa.BigInteger(), nullable=False),
    sa.Column('phase', _text(16), nullable=False),
    sa.Column('stage', _text(8), nullable=True),
    sa.Column('outcome', _text(8), nullable=False),
    sa.Column('actor', _text(64), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rollout_gates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollout_gates_rollout_id'), ['rollout_id'], unique=False)

    op.create_table('desired_states',
    sa.Column('gateway_id', _text(64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('rollout_id', _text(64), nullable=True),
    sa.Column('updated_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('gateway_id')
    )


def downgrade() -> None:
    op.drop_table('desired_states')
    with op.batch_alter_table('rollout_gates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollout_gates_rollout_id'))
    op.drop_table('rollout_gates')
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollouts_phase'))
        batch_op.drop_index(batch_op.f('ix_rollouts_model'))
    op.drop_table('rollouts')
    op.drop_table('model_versions')
