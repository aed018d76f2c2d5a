"""One settings object for the whole engine: ``REELSMITH_*`` environment variables, an
optional TOML file, and the defaults below.

Every setting is a field of the frozen :class:`Settings`, declared with :func:`setting` so that
its default, its meaning and how the README shows it sit on one line; the README's configuration
table is generated from these fields (``reelsmith settings --table``) and a test keeps the two
equal. No other module reads ``REELSMITH_*`` variables: they ask ``get_settings()``.

Precedence: an environment variable (``REELSMITH_`` + the field name in capitals) > the TOML
file named by ``REELSMITH_CONFIG`` (keys are the field names) > the default. ``get_settings()``
is cached; call ``reset_settings()`` after changing the environment (tests do).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from reelsmith.errors import ConfigError

_MiB = 1024 * 1024
ENV_PREFIX = "REELSMITH_"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelsmith"


def setting(default: Any = MISSING, *, doc: str, group: str, shown: str = "", alias: str = "",
            factory: Any = MISSING) -> Any:
    """Declare one settings field. ``doc``: what it does (one line of the README table);
    ``group``: its section; ``shown``: how the table prints the default when ``repr`` would
    not read well; ``alias``: a second, shorter environment variable name."""
    meta = {"doc": doc, "group": group, "shown": shown, "alias": alias}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    # Storage.
    data_dir: Path = setting(factory=_default_data_dir, group="storage", shown="~/.local/share/reelsmith",
                             doc="job store, artifacts, work dirs")
    models_dir: Path | None = setting(None, group="storage", alias="REELSMITH_MODELS",
                                      shown="<data dir>/models", doc="model weights directory")
    output_dir: Path | None = setting(
        None, group="storage", shown="/runpod-volume (the worker)",
        doc="where `network_volume` results go")
    # Input limits (0 disables a limit).
    max_input_bytes: int = setting(2048 * _MiB, group="inputs", shown="2 GiB",
                                   doc="input file size (checked before decoding; 0: no limit)")
    max_pixels: int = setting(7680 * 4320, group="inputs", shown="7680x4320",
                              doc="pixels per frame (from the header; 0: no limit)")
    max_duration_s: float = setting(4 * 3600.0, group="inputs", shown="4 h",
                                    doc="input duration (0: no limit)")
    max_frames: int = setting(1_000_000, group="inputs", shown="1M", doc="input frames (0: no limit)")
    allowed_roots: tuple[Path, ...] = setting(
        (), group="inputs", doc="comma-separated roots that local input paths must lie under "
        "(without roots, paths work only on a loopback server with no keys, and in the CLI)")
    url_timeout_s: float = setting(30.0, group="inputs", doc="URL download connect/read timeout")
    url_total_timeout_s: float = setting(3600.0, group="inputs",
                                         doc="whole URL download limit (0: none)")
    url_allow_private: bool = setting(False, group="inputs",
                                      doc="let URL inputs reach loopback/private networks")
    url_allow_hosts: tuple[str, ...] = setting(
        (), group="inputs", doc="hosts/CIDRs URL inputs may reach even when private")
    # Processing.
    job_timeout_s: float = setting(6 * 3600.0, group="processing", doc="overall job timeout")
    threads: int = setting(0, group="processing",
                           doc="CPU threads for libraries that take a count (0: they decide)")
    # Models.
    models_catalog: Path | None = setting(
        None, group="models", doc="a TOML catalog whose entries are added to (and override) the shipped one")
    models_mirror: str = setting("", group="models",
                                 doc="base URL `models pull` downloads every file from instead")
    ort_providers: tuple[str, ...] = setting(
        (), group="models", shown="tensorrt,cuda,cpu",
        doc="ONNX Runtime providers in preference order (`device=auto`)")
    ort_threads: int = setting(0, group="models",
                               doc="ONNX Runtime CPU threads (0: `threads`, else every core)")
    license_profile: str = setting(
        "any", group="models",
        doc="`commercial` refuses models and face backends whose licence forbids (or does not "
            "clearly allow) commercial use; `any` allows all")
    # Highlights.
    whisper_model: Path | None = setting(
        None, group="highlights", shown="<models dir>/faster-whisper*",
        doc="a faster-whisper model folder for subtitles")
    llm_url: str = setting("", group="highlights",
                           doc="OpenAI-compatible base URL for LLM scoring of transcript windows")
    llm_model: str = setting("default", group="highlights", doc="the model name sent to `llm_url`")
    llm_api_key: str = setting("", group="highlights", doc="bearer key for `llm_url`")
    llm_timeout_s: float = setting(30.0, group="highlights", alias="REELSMITH_LLM_TIMEOUT",
                                   doc="LLM request timeout")
    vision_model: str = setting("", group="highlights",
                                doc="a vision model at `llm_url` that describes the face for portrait "
                                    "prompts (empty: a neutral default prompt)")
    # Job server (reelsmith.jobs / reelsmith.server).
    database_url: str = setting("", group="server", shown="SQLite in the data dir",
                                doc="SQLAlchemy URL of the job store (PostgreSQL for many workers)")
    broker_url: str = setting("", group="server", shown="in-process runner",
                              doc="`redis://...`: jobs go to Celery workers")
    server_workers: int = setting(0, group="server", shown="GPUs, else CPUs/2",
                                  doc="concurrent jobs in the local runner")
    job_max_attempts: int = setting(3, group="server",
                                    doc="a job interrupted (crash, killed worker) more often fails")
    job_lease_s: float = setting(30.0, group="server",
                                 doc="a running job whose worker stopped heart-beating this long is re-queued")
    retention_days: float = setting(7.0, group="server",
                                    doc="files of finished jobs older than this are removed (0: keep)")
    retention_max_bytes: int = setting(0, group="server", shown="0 (no cap)",
                                       doc="cap on stored job files, oldest finished first")
    # Auth is required when this is set, when API keys exist at server start, when one is
    # created while it runs, or when the server binds beyond loopback. Revoking keys never
    # turns it off on a running server.
    require_auth: bool = setting(False, group="server",
                                 doc="require API keys even on loopback with no keys")
    allowed_hosts: tuple[str, ...] = setting(
        (), group="server", doc="host names the server answers to besides loopback, the bind "
        "address and `public_url`'s host (`*`: any)")
    allowed_origins: tuple[str, ...] = setting(
        (), group="server", doc="page origins (scheme://host:port) allowed to send writes")
    public_url: str = setting("", group="server",
                              doc="the URL clients use (its host is accepted; result URLs use it)")
    max_json_bytes: int = setting(64 * _MiB, group="server", shown="64 MiB",
                                  doc="JSON request bodies, base64 included (larger files: upload or URL)")
    link_ttl_s: float = setting(900.0, group="server",
                                doc="lifetime of signed link tokens (SSE, WebSocket, downloads)")
    min_free_bytes: int = setting(512 * _MiB, group="server", shown="512 MiB",
                                  doc="below this free space in the data dir, new work gets 507")
    janitor_interval_s: float = setting(600.0, group="server",
                                        doc="leftover and retention sweep period (0: at start only)")
    dispatch_grace_s: float = setting(
        10.0, group="server", doc="a queued job not sent to the broker this long is sent by the reaper")
    rate_limit_per_minute: int = setting(
        600, group="server", doc="requests per API key (or client address without auth); 0: off")
    log_format: str = setting("text", group="server", doc="`text` or `json` (one object per line)")
    # Webhooks.
    webhook_url: str = setting("", group="webhooks", doc="a global webhook called for every finished job")
    webhook_secret: str = setting(
        "", group="webhooks", shown="the owner's secret",
        doc="HMAC key for the global `webhook_url`")
    webhook_secret_grace_s: float = setting(86400.0, group="webhooks",
                                            doc="a rotated webhook secret still signs this long")
    webhook_max_attempts: int = setting(5, group="webhooks", doc="deliveries tried per event")
    webhook_backoff_s: float = setting(1.0, group="webhooks", doc="first retry delay; doubles per attempt")
    webhook_timeout_s: float = setting(10.0, group="webhooks", doc="per-delivery timeout")
    webhook_allow_private: bool = setting(False, group="webhooks",
                                          doc="allow webhook URLs on loopback/private networks")

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or (self.data_dir / "models")


def env_name(f: Field) -> str:
    return ENV_PREFIX + f.name.upper()


def _coerce(f: Field, raw: Any, origin: str) -> Any:
    """``raw`` (a string from the environment or a TOML value) as the field's type."""
    kind = str(f.type)
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in {"1", "true", "yes", "on", "0", "false", "no", "off", ""}:
                raise ValueError(text)
            return text in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            items = raw if isinstance(raw, list | tuple) else [p for p in str(raw).split(",") if p.strip()]
            if "Path" in kind:
                return tuple(Path(str(p).strip()).expanduser() for p in items)
            return tuple(str(p).strip() for p in items)
        if kind.startswith("Path"):
            return Path(str(raw)).expanduser() if raw not in (None, "") else None
        if not isinstance(raw, str):
            raise ValueError(raw)
        return raw
    except (TypeError, ValueError):
        want = {"bool": "true or false", "int": "a whole number", "float": "a number"}.get(kind, kind)
        raise ConfigError(f"{origin} = {raw!r}: expected {want}.") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings in force (cached). Raises ConfigError naming a bad key or value."""
    by_name = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    cfg_file = os.environ.get("REELSMITH_CONFIG")
    if cfg_file:
        try:
            with open(cfg_file, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read the settings file {cfg_file}: {exc}") from None
        unknown = sorted(set(data) - set(by_name))
        if unknown:
            raise ConfigError(f"Unknown setting(s) {', '.join(unknown)} in {cfg_file}; run "
                              "`reelsmith settings` for the list.")
        for name, raw in data.items():
            values[name] = _coerce(by_name[name], raw, f"{name} in {cfg_file}")
    for f in by_name.values():
        for var in filter(None, (f.metadata["alias"], env_name(f))):  # the full name wins
            if var in os.environ:
                values[f.name] = _coerce(f, os.environ[var], var)
    return Settings(**values)


#: Variables pip's own configuration lives in (read for ``models pull`` from the package index;
#: they are pip's settings, not reelsmith's).
PIP_ENVIRONMENT = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "VIRTUAL_ENV")


def pip_environment() -> dict[str, str]:
    """The ``PIP_*`` variables and the ones that locate pip's configuration files."""
    return {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k in PIP_ENVIRONMENT}


def reset_settings() -> None:
    get_settings.cache_clear()


def settings_table() -> str:
    """The README's configuration table (markdown), one row per setting, by group."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in fields(Settings):
        default = f.default if f.default is not MISSING else None
        shown = f.metadata["shown"] or _show(default)
        names = f"`{env_name(f)}`" + (f" (or `{f.metadata['alias']}`)" if f.metadata["alias"] else "")
        rows.append(f"| {names} | {shown} | {f.metadata['doc']} |")
    return "\n".join(rows)


def _show(value: Any) -> str:
    if value in (None, "", ()):
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
