"""Durable jobs: the job table (SQLAlchemy), runners (in-process, Celery), artifacts, webhooks.

- :mod:`reelsmith.jobs.store` — JobStore, the source of truth (SQLite or PostgreSQL).
- :mod:`reelsmith.jobs.runner` — LocalRunner, the in-process thread pool.
- :mod:`reelsmith.jobs.celery_app` — Celery tasks for ``reelsmith worker``.
- :mod:`reelsmith.jobs.execute` — running one claimed job (shared by both runners).
- :mod:`reelsmith.jobs.webhooks` — signed, retried webhook delivery.
- :mod:`reelsmith.jobs.handler` — the RunPod handler contract (shared with the serverless worker).
"""
