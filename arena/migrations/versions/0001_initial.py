"""The arena's first schema: annotators, images, prompts, models, model pairs, answers, battles, assignments
and votes.

Revision ID: 0001
Revises: none
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_salt", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_annotators"),
        sa.UniqueConstraint("name", name="uq_annotators_name"),
    )
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_images"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("name", name="uq_models_name"),
    )
    op.create_table(
        "model_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_low_id", sa.Integer(), nullable=False),
        sa.Column("model_high_id", sa.Integer(), nullable=False),
        sa.Column("n_assigned", sa.Integer(), nullable=False),
        sa.CheckConstraint("model_low_id < model_high_id", name=op.f("ck_model_pairs_ordered")),
        sa.ForeignKeyConstraint(["model_low_id"], ["models.id"], name="fk_model_pairs_model_low_id_models"),
        sa.ForeignKeyConstraint(["model_high_id"], ["models.id"], name="fk_model_pairs_model_high_id_models"),
        sa.PrimaryKeyConstraint("id", name="pk_model_pairs"),
        sa.UniqueConstraint("model_low_id", "model_high_id", name="uq_model_pairs_model_low_id_model_high_id"),
    )
    op.create_table(
        "prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.String(200), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["image_sha256"], ["images.sha256"], name="fk_prompts_image_sha256_images"),
        sa.PrimaryKeyConstraint("id", name="pk_prompts"),
        sa.UniqueConstraint("prompt_id", name="uq_prompts_prompt_id"),
    )
    op.create_index("ix_prompts_image_sha256", "prompts", ["image_sha256"])
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("generation", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], name="fk_answers_prompt_id_prompts"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_answers_model_id_models"),
        sa.PrimaryKeyConstraint("id", name="pk_answers"),
        sa.UniqueConstraint("prompt_id", "model_id", name="uq_answers_prompt_id_model_id"),
    )
    op.create_index("ix_answers_model_id", "answers", ["model_id"])
    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("answer_a_id", sa.Integer(), nullable=False),
        sa.Column("answer_b_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=True),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column("gold_better", sa.String(1), nullable=True),
        sa.Column("n_assigned", sa.Integer(), nullable=False),
        sa.CheckConstraint("answer_a_id <> answer_b_id", name=op.f("ck_battles_two_answers")),
        sa.CheckConstraint("gold_better IN ('a', 'b')", name=op.f("ck_battles_gold_better")),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], name="fk_battles_prompt_id_prompts"),
        sa.ForeignKeyConstraint(["answer_a_id"], ["answers.id"], name="fk_battles_answer_a_id_answers"),
        sa.ForeignKeyConstraint(["answer_b_id"], ["answers.id"], name="fk_battles_answer_b_id_answers"),
        sa.ForeignKeyConstraint(["pair_id"], ["model_pairs.id"], name="fk_battles_pair_id_model_pairs"),
        sa.PrimaryKeyConstraint("id", name="pk_battles"),
        sa.UniqueConstraint("answer_a_id", "answer_b_id", name="uq_battles_answer_a_id_answer_b_id"),
    )
    op.create_index("ix_battles_prompt_id", "battles", ["prompt_id"])
    op.create_index("ix_battles_pair_id", "battles", ["pair_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("swapped", sa.Boolean(), nullable=False),
        sa.Column("shown_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"], ["annotators.id"], name="fk_assignments_annotator_id_annotators"
        ),
        sa.ForeignKeyConstraint(["battle_id"], ["battles.id"], name="fk_assignments_battle_id_battles"),
        sa.PrimaryKeyConstraint("id", name="pk_assignments"),
        sa.UniqueConstraint("annotator_id", "battle_id", name="uq_assignments_annotator_id_battle_id"),
    )
    op.create_index("ix_assignments_battle_id", "assignments", ["battle_id"])
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("tstamp", sa.Double(), nullable=False),
        sa.Column("latency", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "choice IN ('a_better', 'b_better', 'tie_good', 'tie_bad', 'cant_tell')",
            name=op.f("ck_votes_choice"),
        ),
        sa.ForeignKeyConstraint(
            ["annotator_id", "battle_id"],
            ["assignments.annotator_id", "assignments.battle_id"],
            name="fk_votes_annotator_id_battle_id_assignments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_votes"),
        sa.UniqueConstraint("annotator_id", "battle_id", name="uq_votes_annotator_id_battle_id"),
    )


def downgrade() -> None:
    for table in ("votes", "assignments", "battles", "answers", "prompts", "model_pairs", "models", "images",
                  "annotators"):
        op.drop_table(table)
