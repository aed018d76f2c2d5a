"""Reading JSON request bodies: size-limited by the guard, depth-limited here."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from reelsmith.server.errors import ApiError

MAX_DEPTH = 32


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, d)
            if d > MAX_DEPTH:
                return d
            stack.extend((v, d + 1) for v in item if isinstance(v, dict | list))
    return deepest


async def read_json(request: Request) -> Any:
    """The body as JSON; 400 ``too_deep`` past ``MAX_DEPTH`` levels, 422 when not JSON."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except RecursionError:
        data, deep = None, True
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" ({exc.msg} at position {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(422, "validation_error", f"The body is not valid JSON{where}.",
                       fields=[{"field": "body", "message": "invalid JSON"}]) from None
    else:
        deep = _depth(data) > MAX_DEPTH
    if deep:
        raise ApiError(400, "too_deep", f"The JSON body is nested more than {MAX_DEPTH} levels deep.")
    return data
