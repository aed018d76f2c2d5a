"""Every error leaves the server as JSON ``{"error": code, "message": sentence, ...}``.

422 carries ``fields``: one ``{"field", "message"}`` per problem. No traceback is ever
returned: unexpected exceptions become a 500 with a sentence and are logged.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelsmith.errors import InsufficientStorage, ReelsmithError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers
        self.extra = extra


def field_errors(exc: ValidationError | RequestValidationError, prefix: str = "") -> list[dict]:
    out = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body",)]
        name = ".".join(([prefix] if prefix else []) + loc) or (prefix or "body")
        out.append({"field": name, "message": err.get("msg", "invalid value"),
                    "type": err.get("type", "")})
    return out


def validation_error(fields: list[dict], what: str = "Invalid request") -> ApiError:
    listing = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return ApiError(422, "validation_error", f"{what} — {listing}.", fields=fields)


# Statuses >= 500 a ReelsmithError may carry to the client; any other 5xx becomes 500.
PASSED_5XX = frozenset({507})

# Database errors that mean the disk under the job store is full (SQLite, PostgreSQL).
_DISK_FULL_MARKERS = ("database or disk is full", "disk i/o error", "no space left on device",
                      "could not extend file")


def storage_error(exc: BaseException) -> InsufficientStorage | None:
    """The :class:`InsufficientStorage` a database or file-system error stands for, or None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage("The server's storage is full, so the request could not be "
                                   "saved; try again once disk space has been freed.")
    text = str(getattr(exc, "orig", None) or exc).lower()
    if any(marker in text for marker in _DISK_FULL_MARKERS):
        return InsufficientStorage("The server's storage is full, so the request could not be "
                                   "saved; try again once disk space has been freed.")
    return None


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra),
                            status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ReelsmithError)
    async def _rs(_: Request, exc: ReelsmithError) -> JSONResponse:
        status = exc.http_status if exc.http_status < 500 or exc.http_status in PASSED_5XX else 500
        return JSONResponse(error_body(exc.code, exc.message), status_code=status)

    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        """A full disk or database is a 507 with a sentence; any other I/O or database
        failure is an internal error (logged, no details returned)."""
        full = storage_error(exc)
        if full is not None:
            log.error("storage full on %s %s: %s", request.method, request.url.path,
                      getattr(exc, "orig", None) or exc)
            return JSONResponse(error_body(full.code, full.message), status_code=full.http_status)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "The server hit an internal error; the "
                                       "details are in its log."), status_code=500)

    app.add_exception_handler(OperationalError, _storage)
    app.add_exception_handler(OSError, _storage)

    @app.exception_handler(RequestValidationError)
    async def _rv(_: Request, exc: RequestValidationError) -> JSONResponse:
        err = validation_error(field_errors(exc))
        return JSONResponse(error_body(err.code, err.message, **err.extra), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        msg = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404 and msg == "Not Found":
            msg = "There is nothing at this address."
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), msg),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "The server hit an internal error; the "
                                       "details are in its log."), status_code=500)
