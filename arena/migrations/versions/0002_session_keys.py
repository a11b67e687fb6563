"""Session keys: one row per sign-in, so that each key expires and can be revoked on its own.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
        sa.Column("revoked", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["annotator_id"], ["annotators.id"], name="fk_session_keys_annotator_id_annotators"),
        sa.PrimaryKeyConstraint("id", name="pk_session_keys"),
    )
    op.create_index("ix_session_keys_annotator_id", "session_keys", ["annotator_id"])


def downgrade() -> None:
    op.drop_table("session_keys")
