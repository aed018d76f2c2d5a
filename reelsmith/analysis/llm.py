"""Optional LLM calls through an OpenAI-compatible HTTP endpoint: scoring transcript windows
(highlights) and, with a vision model, describing a face (portrait prompts,
:mod:`reelsmith.analysis.face_describe`); :func:`chat` is the one request both make.

Configured by the settings ``llm_url`` (base URL, e.g. ``http://127.0.0.1:8000/v1``; env
``REELSMITH_LLM_URL``), ``llm_model``, ``llm_api_key`` (optional) and ``llm_timeout_s``. Any
failure (timeout, HTTP error, unparsable answer) returns None and a reason, and the caller
falls back (the highlight reel to its other signals).
"""

from __future__ import annotations

import json
import re

from reelsmith.config import get_settings

_PROMPT = (
    "You pick highlights for a short video reel. For each numbered transcript window below, "
    "rate from 0 to 10 how interesting, funny, emotional or important it is. Answer with JSON "
    'only, like {"scores": [3, 8, 0]}, one number per window, in order.'
)


def config() -> dict | None:
    s = get_settings()
    url = s.llm_url.strip()
    if not url:
        return None
    return {"url": url.rstrip("/"), "model": s.llm_model, "api_key": s.llm_api_key,
            "timeout": s.llm_timeout_s}


def _parse_scores(content: str, n: int) -> list[float]:
    m = re.search(r"\{.*\}", content, re.S)
    data = json.loads(m.group(0) if m else content)
    scores = data["scores"] if isinstance(data, dict) else data
    if not isinstance(scores, list) or len(scores) != n:
        raise ValueError(f"expected {n} scores, got {scores!r:.80}")
    return [max(0.0, min(10.0, float(s))) / 10.0 for s in scores]


def chat(messages: list[dict], cfg: dict | None = None, *, model: str | None = None) -> tuple[str | None, str]:
    """One chat completion: (the answer's text, "") or (None, a reason). Never raises."""
    cfg = cfg or config()
    if cfg is None:
        return None, "no LLM endpoint is configured (REELSMITH_LLM_URL)"
    try:
        import httpx
    except ImportError:
        return None, "httpx is not installed"
    body = {"model": model or cfg["model"], "temperature": 0, "messages": messages}
    headers = {"Authorization": f"Bearer {cfg['api_key']}"} if cfg.get("api_key") else {}
    try:
        resp = httpx.post(cfg["url"] + "/chat/completions", json=body, headers=headers,
                          timeout=cfg["timeout"])
        resp.raise_for_status()
        content = resp.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("the message content is not text")
        return content, ""
    except httpx.TimeoutException:
        return None, f"the LLM endpoint did not answer within {cfg['timeout']:g} s"
    except httpx.HTTPError as exc:
        return None, f"the LLM endpoint failed ({exc})"
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        return None, f"the LLM answer could not be read ({exc})"


def score_windows(texts: list[str], cfg: dict | None = None) -> tuple[list[float] | None, str]:
    """Scores in 0..1 per text window, or (None, reason)."""
    if not texts and (cfg or config()) is not None:
        return None, "there is no transcript text to score"
    listing = "\n".join(f"{i + 1}. {t[:600]}" for i, t in enumerate(texts))
    content, why = chat([{"role": "system", "content": _PROMPT},
                         {"role": "user", "content": listing}], cfg)
    if content is None:
        return None, why
    try:
        return _parse_scores(content, len(texts)), ""
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        return None, f"the LLM answer could not be read ({exc})"
