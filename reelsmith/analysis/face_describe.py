"""A prompt that describes a face, from an OpenAI-compatible vision model.

The portrait workflow's diffusion backend needs a text prompt. When the user gives none and a
vision model is configured (settings ``llm_url`` + ``vision_model``), the face crop is sent to
it as a JPEG data URI and its short description (apparent age, hair, skin tone, expression)
becomes the prompt. Nothing is sent when no vision model is configured. Any failure gives None
and a reason; the caller then uses a neutral default and says which prompt ran.
"""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np

from reelsmith.analysis import llm
from reelsmith.config import get_settings

_ASK = ("Describe the person in this photo for an image-generation prompt: apparent age, "
        "gender presentation, hair colour and style, skin tone, facial hair, glasses and "
        "expression. Answer with one line of comma-separated phrases, at most 30 words, "
        "no names and no sentences.")

#: The most a description may add to a prompt (characters).
MAX_CHARS = 300


def vision_config() -> dict | None:
    """The endpoint and model for face descriptions, or None when no vision model is set."""
    cfg = llm.config()
    model = get_settings().vision_model.strip()
    if cfg is None or not model:
        return None
    return cfg | {"model": model}


def _jpeg_uri(face: np.ndarray, side: int = 384) -> str:
    h, w = face.shape[:2]
    k = min(1.0, side / max(h, w))
    small = cv2.resize(face, (max(1, round(w * k)), max(1, round(h * k))),
                       interpolation=cv2.INTER_AREA) if k < 1 else face
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(small[..., 2::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("the face could not be encoded")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def clean_description(text: str) -> str:
    """One line of plain comma-separated phrases: no quotes, markup or line breaks, bounded."""
    plain = re.sub(r"[`*_#\"<>{}\[\]]", "", text)
    phrases = (" ".join(p.split()).strip(" .:") for p in re.split(r"[,;\n]", plain))
    line = ", ".join(p for p in phrases if p)
    if len(line) > MAX_CHARS:
        line = line[:MAX_CHARS].rsplit(",", 1)[0].strip(" ,")
    return line


def describe_face(face: np.ndarray, cfg: dict | None = None) -> tuple[str | None, str]:
    """(description, "") for a face crop (HxWx3 uint8 RGB), or (None, why not)."""
    cfg = cfg or vision_config()
    if cfg is None:
        return None, "no vision model is configured (REELSMITH_LLM_URL and REELSMITH_VISION_MODEL)"
    messages = [{"role": "user", "content": [
        {"type": "text", "text": _ASK},
        {"type": "image_url", "image_url": {"url": _jpeg_uri(np.ascontiguousarray(face[..., :3]))}}]}]
    content, why = llm.chat(messages, cfg)
    if content is None:
        return None, why
    text = clean_description(content)
    if len(text) < 3:
        return None, "the vision model's answer was empty"
    return text, ""
