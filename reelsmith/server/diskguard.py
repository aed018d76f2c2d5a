"""A FastAPI dependency that refuses new work with 507 when the data dir is nearly full.

Usage on a route: ``dependencies=[Depends(require_disk_space)]``. It costs one cached
``statvfs`` per second at most, so it is fine on every upload and job creation.
"""

from __future__ import annotations

from reelsmith.jobs.diskspace import check_free_space


async def require_disk_space() -> None:
    """Raise :class:`reelsmith.errors.InsufficientStorage` (HTTP 507) below ``min_free_bytes``."""
    check_free_space()
