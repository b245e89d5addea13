"""identity: index face_enrolments.consent_at for the retention purge

`hocvu identity purge-enrolments` and the periodic purge delete enrolments whose consent is older
than HOCVU_FACE_RETENTION_DAYS (Decree 13/2023/NĐ-CP Art. 3, Art. 16: kept no longer than the
purpose needs); at national scale (one row per enrolled learner) that DELETE should not scan the
table. Extends the identity branch (0090). Written by hand to match the model.

Revision ID: 0091
Revises: 0090
Create Date: 2026-12-07 10:00:00.000000
"""
from alembic import op

revision = '0091'
down_revision = '0090'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('face_enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_enrolments_consent_at'), ['consent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('face_enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_enrolments_consent_at'))
