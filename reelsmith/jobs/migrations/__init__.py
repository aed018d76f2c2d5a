"""Alembic migrations of the job store; applied with :func:`reelsmith.jobs.db.migrate`."""
