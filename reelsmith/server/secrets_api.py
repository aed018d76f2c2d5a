"""The caller's webhook signing secret: read it, rotate it.

Deliveries of an owner's jobs are signed with that owner's secret (see
:mod:`reelsmith.jobs.webhooks`). After a rotation the previous secret keeps signing (as a
second signature) until ``previous_valid_until``, so receivers can switch without a gap.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from reelsmith.jobs.webhooks import owner_secret_view
from reelsmith.server.auth import require_owner

router = APIRouter(prefix="/api/v1/webhook-secret", tags=["webhooks"])


class WebhookSecret(BaseModel):
    secret: str
    rotated_at: float
    previous_valid_until: float | None = None  # null: only ``secret`` signs deliveries


def _answer(request: Request, owner: str) -> WebhookSecret:
    view = owner_secret_view(request.app.state.rs.store, owner)
    return WebhookSecret(secret=view.secret, rotated_at=view.rotated_at,
                         previous_valid_until=view.previous_valid_until)


@router.get("", response_model=WebhookSecret)
def get_secret(request: Request, owner: str = Depends(require_owner)) -> WebhookSecret:
    """The secret your webhook deliveries are signed with (created on first use)."""
    return _answer(request, owner)


@router.post("/rotate", response_model=WebhookSecret)
def rotate_secret(request: Request, owner: str = Depends(require_owner)) -> WebhookSecret:
    """Replace the secret; the old one still signs for ``webhook_secret_grace_s`` seconds."""
    request.app.state.rs.store.rotate_owner_secret(owner)
    return _answer(request, owner)
