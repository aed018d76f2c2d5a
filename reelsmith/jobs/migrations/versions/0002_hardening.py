"""Hardening: dispatch outbox, persisted /v2 stream cursor, job-owned uploads, tracked
published copies, per-owner webhook secrets, listing indexes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as b:
        # NULL: committed but never handed to a runner (the outbox the reaper drains).
        b.add_column(sa.Column("dispatched_at", sa.Float, nullable=True))
        # What /v2/stream last sent for this job, so restarts and other servers agree.
        b.add_column(sa.Column("stream_mark", sa.String(64), nullable=True))
        # Copies written outside the data dir (RunPod network_volume): {role: path}.
        b.add_column(sa.Column("published", sa.JSON, nullable=True))
    # Jobs already in the table were dispatched by the server that created them.
    op.execute("UPDATE jobs SET dispatched_at = created_at")
    op.create_index("ix_jobs_owner_created", "jobs", ["owner", "created_at"])
    op.create_index("ix_jobs_owner_status_created", "jobs", ["owner", "status", "created_at"])
    with op.batch_alter_table("uploads") as b:
        # Set for uploads made from a job's own request (base64, one-call multipart):
        # they belong to that job and are deleted with it.
        b.add_column(sa.Column("job_id", sa.String(40), nullable=True))
    op.create_index("ix_uploads_job_id", "uploads", ["job_id"])
    op.create_table(
        "owner_secrets",
        sa.Column("owner", sa.String(100), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("previous", sa.String(128), nullable=True),
        sa.Column("rotated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("owner_secrets")
    op.drop_index("ix_uploads_job_id", "uploads")
    with op.batch_alter_table("uploads") as b:
        b.drop_column("job_id")
    op.drop_index("ix_jobs_owner_status_created", "jobs")
    op.drop_index("ix_jobs_owner_created", "jobs")
    with op.batch_alter_table("jobs") as b:
        b.drop_column("published")
        b.drop_column("stream_mark")
        b.drop_column("dispatched_at")
