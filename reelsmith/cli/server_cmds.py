"""``reelsmith serve | worker | keys create|list|revoke``."""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import sys
import time

from reelsmith.errors import InputError


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _import_modules(names: list[str]) -> None:
    """Extra modules to import (e.g. ones that register more workflows)."""
    for name in names:
        importlib.import_module(name)


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from reelsmith.config import get_settings
    from reelsmith.jobs.store import JobStore
    from reelsmith.logs import configure_logging
    from reelsmith.server.app import create_app

    s = get_settings()
    try:
        configure_logging(args.log_level, s.log_format)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    _import_modules(args.import_module)
    loopback = _is_loopback(args.host)
    if not loopback and not args.insecure:
        auth = s.require_auth or JobStore().active_key_count() > 0
        if not auth:
            raise InputError(
                f"Refusing to listen on {args.host} without authentication: create an API key "
                "first (reelsmith keys create NAME) or pass --insecure.")
    app = create_app(concurrency=args.workers or None, local_only=loopback, bind_host=args.host,
                     insecure=args.insecure)
    logging.getLogger("reelsmith.server").info(
        "serving on http://%s:%s (docs at /docs, studio at /studio/)", args.host, args.port)
    # log_config=None: uvicorn keeps the handler configured above (format + redaction).
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, log_config=None,
                timeout_graceful_shutdown=10)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from reelsmith.config import get_settings

    _import_modules(args.import_module)
    if not get_settings().broker_url:
        raise InputError("reelsmith worker needs a broker: set REELSMITH_BROKER_URL "
                         "(e.g. redis://127.0.0.1:6379/0) and REELSMITH_DATABASE_URL.")
    from reelsmith.jobs.celery_app import run_worker

    return run_worker(concurrency=args.concurrency, name=args.name,
                      loglevel=args.log_level, imports=args.import_module)


def cmd_keys(args: argparse.Namespace) -> int:
    from reelsmith.jobs.store import JobStore

    store = JobStore()
    if args.keys_command == "create":
        row, secret = store.create_key(args.name, owner=args.owner)
        print(secret)
        print(f"key {row.id} ({row.name}, owner {row.owner}) created; the key above is shown "
              "only once.", file=sys.stderr)
        return 0
    if args.keys_command == "list":
        keys = store.list_keys()
        if not keys:
            print("no API keys (the server runs without authentication)")
        for k in keys:
            state = "revoked" if k.revoked_at else "active"
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created_at))
            print(f"{k.id}  {k.prefix}...  {k.name:<20} owner={k.owner:<20} {state:<8} {made}")
        return 0
    if args.keys_command == "revoke":
        if not store.revoke_key(args.key):
            raise InputError(f"No active API key matches {args.key!r} (use an id, prefix or name "
                             "from 'reelsmith keys list').")
        print(f"revoked {args.key}")
        return 0
    return 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the job server (REST, progress, RunPod API, studio)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=0,
                   help="concurrent jobs in this process (default: one per GPU, else CPUs/2)")
    p.add_argument("--insecure", action="store_true",
                   help="allow binding a non-loopback address without API keys")
    p.add_argument("--log-level", default="info")
    p.add_argument("--import", dest="import_module", action="append", default=[],
                   metavar="MODULE", help="import a module first (e.g. extra workflows)")
    p.set_defaults(func=cmd_serve)

    w = sub.add_parser("worker", help="run a Celery worker (needs REELSMITH_BROKER_URL)")
    w.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1)")
    w.add_argument("--name", default=None, help="worker node name")
    w.add_argument("--log-level", default="info")
    w.add_argument("--import", dest="import_module", action="append", default=[],
                   metavar="MODULE", help="import a module first (e.g. extra workflows)")
    w.set_defaults(func=cmd_worker)

    k = sub.add_parser("keys", help="manage API keys of the job server")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION")
    ks.required = True
    c = ks.add_parser("create", help="create a key (printed once)")
    c.add_argument("name")
    c.add_argument("--owner", help="owner id (default: the name); keys of one owner share jobs")
    ks.add_parser("list", help="list keys")
    r = ks.add_parser("revoke", help="revoke a key by id, prefix or name")
    r.add_argument("key")
    k.set_defaults(func=cmd_keys)
