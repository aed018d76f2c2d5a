"""Settings from the environment (``REELSMITH_*``) with an optional TOML file.

``get_settings()`` is cached; tests call ``reset_settings()`` after changing the
environment. Precedence: explicit env var > file given by ``REELSMITH_CONFIG`` > defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

_MiB = 1024 * 1024


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelsmith"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    models_dir: Path | None = None  # default: data_dir / "models"
    output_dir: Path = Path("/runpod-volume")  # where the worker writes network-volume results
    # Input limits (0 disables a limit).
    max_input_bytes: int = 2048 * _MiB
    max_pixels: int = 7680 * 4320  # per frame
    max_duration_s: float = 4 * 3600.0
    max_frames: int = 1_000_000
    # Local paths are accepted only under these roots (empty: any path the process can read).
    allowed_roots: tuple[Path, ...] = ()
    # URL downloads.
    url_timeout_s: float = 30.0
    url_allow_private: bool = False
    url_allow_hosts: tuple[str, ...] = ()  # hosts/CIDRs allowed even when private
    # Jobs.
    job_timeout_s: float = 6 * 3600.0
    # Encoding defaults.
    default_codec: str = "h264"
    default_crf: int = 18
    threads: int = 0  # 0: let libraries decide
    # Job server (reelsmith.jobs / reelsmith.server).
    database_url: str = ""  # empty: SQLite file data_dir/reelsmith.db; else SQLAlchemy URL
    broker_url: str = ""  # empty: in-process runner; redis://... : jobs go to Celery workers
    server_workers: int = 0  # concurrent jobs in the local runner; 0: one per GPU, else CPUs/2
    job_max_attempts: int = 3  # a job interrupted (crash, killed worker) more often fails
    job_lease_s: float = 30.0  # a running job whose worker stopped heart-beating this long is re-queued
    retention_days: float = 7.0  # artifacts of finished jobs older than this are removed; 0: keep
    # Auth is required when this is set, when API keys exist at server start, when one is
    # created while it runs, or when the server binds beyond loopback. Revoking keys never
    # turns it off on a running server.
    require_auth: bool = False
    # Host names the server answers to besides loopback names, the bind address and
    # public_url's host (DNS-rebinding defence); "*" accepts any.
    allowed_hosts: tuple[str, ...] = ()
    # Origins (scheme://host:port) whose pages may send writes besides the server's own.
    allowed_origins: tuple[str, ...] = ()
    max_json_bytes: int = 64 * _MiB  # JSON request bodies (base64 inputs included)
    link_ttl_s: float = 900.0  # lifetime of signed URL tokens (SSE, WebSocket, downloads)
    min_free_bytes: int = 512 * _MiB  # below this free space in the data dir, new work gets 507
    janitor_interval_s: float = 600.0  # leftover and retention sweep period; 0: at start only
    retention_max_bytes: int = 0  # cap on stored job files (oldest finished first); 0: none
    dispatch_grace_s: float = 10.0  # a queued job not sent to the broker this long is re-sent
    webhook_secret_grace_s: float = 86400.0  # a rotated webhook secret still signs this long
    log_format: str = "text"  # "text" or "json" (one object per line)
    rate_limit_per_minute: int = 600  # per API key (or per client address without auth); 0: off
    webhook_url: str = ""  # global webhook, called for every finished job
    webhook_secret: str = ""  # operator's HMAC key for the global webhook_url; empty: the owner's secret
    webhook_max_attempts: int = 5
    webhook_backoff_s: float = 1.0  # first retry delay; doubles per attempt
    webhook_timeout_s: float = 10.0
    webhook_allow_private: bool = False  # allow webhook URLs on loopback/private networks
    public_url: str = ""  # base URL the server is reached at (for result_url in webhooks)
    # Whole-transfer limit for a URL download (url_timeout_s bounds each connect/read); 0: none.
    url_total_timeout_s: float = 3600.0

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or (self.data_dir / "models")


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int) and not isinstance(default, bool):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        items = raw if isinstance(raw, list | tuple) else [p for p in str(raw).split(",") if p]
        if name == "allowed_roots":
            return tuple(Path(p).expanduser() for p in items)
        return tuple(str(p).strip() for p in items)
    if isinstance(default, Path) or name in {"models_dir", "data_dir", "output_dir"}:
        return Path(str(raw)).expanduser() if raw not in (None, "") else None
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values: dict[str, Any] = {}
    defaults = Settings()
    cfg_file = os.environ.get("REELSMITH_CONFIG")
    if cfg_file:
        with open(cfg_file, "rb") as fh:
            data = tomllib.load(fh)
        for f in fields(Settings):
            if f.name in data:
                values[f.name] = _coerce(f.name, data[f.name], getattr(defaults, f.name))
    for f in fields(Settings):
        env = os.environ.get("REELSMITH_" + f.name.upper())
        if env is not None:
            values[f.name] = _coerce(f.name, env, getattr(defaults, f.name))
    # Short aliases documented in the README.
    if "REELSMITH_MODELS" in os.environ:
        values["models_dir"] = Path(os.environ["REELSMITH_MODELS"]).expanduser()
    return Settings(**values)


def reset_settings() -> None:
    get_settings.cache_clear()
