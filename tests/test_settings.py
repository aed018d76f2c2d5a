"""One settings object: every setting is declared once, read through it, and documented."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from reelsmith.cli import main as cli_main
from reelsmith.config import Settings, get_settings, reset_settings, settings_table
from reelsmith.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reelsmith"


def _sources() -> dict[Path, str]:
    return {p: p.read_text("utf-8") for p in PACKAGE.rglob("*.py") if p.name != "config.py"}


def test_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert settings_table() in readme, "README's configuration table differs: run `reelsmith settings --table`"


def test_every_setting_is_read_somewhere():
    code = "\n".join(_sources().values())
    unread = [f.name for f in fields(Settings) if not re.search(rf"\.{f.name}\b", code)]
    assert unread == []


def test_no_other_module_reads_the_environment():
    """Only config.py reads the environment; the RunPod worker also reads RunPod's own
    variables (RUNPOD_*), which are the platform's, not settings."""
    readers = set()
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if ((isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"})
                    or (isinstance(node, ast.Name) and node.id in {"environ", "getenv"})):
                readers.add(str(path.relative_to(PACKAGE)))
    assert readers <= {"serverless.py"}
    serverless = (PACKAGE / "serverless.py").read_text("utf-8")
    assert re.findall(r"environ\.get\(\"(\w+)", serverless) == ["RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_POD_ID"]


def test_environment_file_and_aliases(tmp_path, monkeypatch):
    cfg = tmp_path / "reelsmith.toml"
    cfg.write_text('job_timeout_s = 60\nallowed_roots = ["~/a", "/b"]\nllm_model = "m"\n')
    monkeypatch.setenv("REELSMITH_CONFIG", str(cfg))
    monkeypatch.setenv("REELSMITH_LLM_MODEL", "from-env")
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "short"))
    monkeypatch.setenv("REELSMITH_LLM_TIMEOUT", "5")
    monkeypatch.setenv("REELSMITH_ORT_PROVIDERS", "cuda, cpu")
    reset_settings()
    s = get_settings()
    assert s.job_timeout_s == 60.0
    assert s.allowed_roots == (Path("~/a").expanduser(), Path("/b"))
    assert s.llm_model == "from-env"  # the environment wins over the file
    assert s.resolved_models_dir == tmp_path / "short"
    assert s.llm_timeout_s == 5.0
    assert s.ort_providers == ("cuda", "cpu")
    monkeypatch.setenv("REELSMITH_MODELS_DIR", str(tmp_path / "long"))
    reset_settings()
    assert get_settings().resolved_models_dir == tmp_path / "long"  # the full name wins


@pytest.mark.parametrize(("var", "value", "expected"), [
    ("REELSMITH_JOB_TIMEOUT_S", "soon", "expected a number"),
    ("REELSMITH_JOB_MAX_ATTEMPTS", "2.5", "expected a whole number"),
    ("REELSMITH_REQUIRE_AUTH", "maybe", "expected true or false"),
])
def test_bad_values_name_the_variable(monkeypatch, capsys, var, value, expected):
    monkeypatch.setenv(var, value)
    reset_settings()
    with pytest.raises(ConfigError, match=f"{var} = '{value}': {expected}"):
        get_settings()
    assert cli_main(["settings"]) == 2
    assert var in capsys.readouterr().err


def test_unknown_key_in_the_file_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "reelsmith.toml"
    cfg.write_text("job_timeout = 60\n")
    monkeypatch.setenv("REELSMITH_CONFIG", str(cfg))
    reset_settings()
    with pytest.raises(ConfigError, match="Unknown setting.*job_timeout"):
        get_settings()


def test_settings_command_masks_secrets(monkeypatch, capsys):
    monkeypatch.setenv("REELSMITH_LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("REELSMITH_DATABASE_URL", "postgresql://u:pw@db/x")
    reset_settings()
    assert cli_main(["settings", "--json"]) == 0
    out = capsys.readouterr().out
    assert "sk-very-secret" not in out and "pw@db" not in out
    assert '"llm_api_key": "(set)"' in out
    assert cli_main(["settings", "--table"]) == 0
    assert capsys.readouterr().out.strip() == settings_table()


def test_network_volume_defaults_to_runpods_mount(tmp_path, monkeypatch):
    from reelsmith.jobs import handler

    assert Settings().output_dir is None  # no RunPod path in the bottom layer
    assert Path("/runpod-volume") == handler.RUNPOD_VOLUME
    monkeypatch.setattr(handler, "RUNPOD_VOLUME", tmp_path / "mount")
    src = tmp_path / "a.bin"
    src.write_bytes(b"x")
    assert handler.publish_copy(src, None, "a.bin").read_bytes() == b"x"
    assert (tmp_path / "mount" / "a.bin").is_file()
