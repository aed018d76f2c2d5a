"""``/docs`` (Swagger UI 5) and ``/redoc`` served with no network access.

FastAPI's default pages load their JavaScript and CSS from a CDN; here the assets come from
the ``fastapi-offline`` package (Swagger UI 5, needed for OpenAPI 3.1, and ReDoc 2) and are
served under ``/docs-assets/``. The app must be created with ``docs_url=None, redoc_url=None``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from reelsmith.server.errors import ApiError

router = APIRouter(include_in_schema=False)
ASSETS_URL = "/docs-assets"
_ASSETS = {  # served name -> media type; nothing else in the folder is reachable
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


def assets_dir() -> Path | None:
    """The folder holding the bundled assets, or None when fastapi-offline is not installed."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    return Path(fastapi_offline.__file__).parent / "static"


def _urls(request: Request) -> tuple[str, str]:
    root = request.scope.get("root_path", "")
    return f"{root}{request.app.openapi_url}", f"{root}{ASSETS_URL}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    openapi, assets = _urls(request)
    return get_swagger_ui_html(
        openapi_url=openapi, title=f"{request.app.title} - API docs",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js", swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
        oauth2_redirect_url=f"{request.scope.get('root_path', '')}/docs/oauth2-redirect",
        swagger_ui_parameters=request.app.swagger_ui_parameters)


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    openapi, assets = _urls(request)
    return get_redoc_html(openapi_url=openapi, title=f"{request.app.title} - ReDoc",
                          redoc_js_url=f"{assets}/redoc.standalone.js",
                          redoc_favicon_url=f"{assets}/favicon.png", with_google_fonts=False)


@router.get(ASSETS_URL + "/{name}")
async def asset(name: str) -> FileResponse:
    folder = assets_dir()
    if name not in _ASSETS:
        raise ApiError(404, "not_found", f"There is no documentation asset named {name!r}.")
    if folder is None or not (folder / name).is_file():
        raise ApiError(404, "not_found", "The offline documentation assets are not installed "
                       "(pip install fastapi-offline).")
    return FileResponse(folder / name, media_type=_ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})
