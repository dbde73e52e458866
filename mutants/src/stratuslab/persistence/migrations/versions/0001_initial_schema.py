"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:01:10.178974
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_groups_name'))
    )
    op.create_table('idempotency_keys',
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('owner', 'key', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('owner', 'key', name='uq_idempotency_owner_key')
    )
    op.create_table('images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('group', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha1', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('kernel', sa.Text(), nullable=True),
    sa.Column('initrd', sa.Text(), nullable=True),
    sa.Column('cmdline', sa.Text(), nullable=True),
    sa.Column('marketplace_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images'))
    )
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_images_owner'), ['owner'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('dn', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('dn', name=op.f('uq_users_dn')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_tokens'))
    )
    op.create_table('vms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('group', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('instance_type', sa.String(length=64), nullable=False),
    sa.Column('vcpu', sa.Integer(), nullable=False),
    sa.Column('memory_mib', sa.Integer(), nullable=False),
    sa.Column('swap_mib', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=128), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('ipv6', sa.String(length=64), nullable=True),
    sa.Column('mac', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('last_action', sa.String(length=32), nullable=True),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_vms_image_id_images')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vms'))
    )
    with op.batch_alter_table('vms', schema=None) as batch_op:
        batch_op.create_index('ix_vms_owner_state', ['owner', 'state'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=True),
    sa.Column('target_state', sa.String(length=32), nullable=True),
    sa.Column('step', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('runner', sa.String(length=128), nullable=True),
    sa.Column('heartbeat', sa.DateTime(timezone=True), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['vm_id'], ['vms.id'], name=op.f('fk_jobs_vm_id_vms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_state_id', ['state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_vm_id'), ['vm_id'], unique=False)

    op.create_table('vm_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('host', sa.String(length=128), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('mac', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['vm_id'], ['vms.id'], name=op.f('fk_vm_events_vm_id_vms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vm_events'))
    )
    with op.batch_alter_table('vm_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vm_events_vm_id'), ['vm_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('vm_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vm_events_vm_id'))

    op.drop_table('vm_events')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_vm_id'))
        batch_op.drop_index('ix_jobs_state_id')

    op.drop_table('jobs')
    with op.batch_alter_table('vms', schema=None) as batch_op:
        batch_op.drop_index('ix_vms_owner_state')

    op.drop_table('vms')
    op.drop_table('tokens')
    op.drop_table('users')
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_images_owner'))

    op.drop_table('images')
    op.drop_table('idempotency_keys')
    op.drop_table('groups')
