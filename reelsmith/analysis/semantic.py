"""Optional semantic 'interestingness' from a CLIP-style image encoder in ONNX.

Files in ``<models>/highlights/``: ``clip_image.onnx`` (one input, NCHW float32 RGB normalised
with the CLIP mean/std, one output: an image embedding) and ``clip_prompts.npz`` holding
``positive`` and ``negative`` arrays of text embeddings (one row per prompt, same width).
The score of a frame is the softmax probability mass of the positive prompts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


class SemanticScorer:
    def __init__(self, model: Path, prompts: Path) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        inp = self.sess.get_inputs()[0]
        self.name = inp.name
        shape = inp.shape
        self.size = shape[-1] if isinstance(shape[-1], int) else 224
        data = np.load(prompts)
        pos, neg = data["positive"].astype(np.float32), data["negative"].astype(np.float32)
        text = np.concatenate([pos, neg])
        self.text = text / np.linalg.norm(text, axis=1, keepdims=True)
        self.n_pos = pos.shape[0]

    def score(self, rgb: np.ndarray) -> float:
        import cv2

        img = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
        x = ((img.astype(np.float32) / 255.0 - _MEAN) / _STD).transpose(2, 0, 1)[None]
        emb = np.asarray(self.sess.run(None, {self.name: x})[0], np.float32).reshape(-1)
        emb = emb / (np.linalg.norm(emb) + 1e-8)
        logits = 100.0 * (self.text @ emb)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return float(p[: self.n_pos].sum())


def load(models_dir: Path | None) -> tuple[SemanticScorer | None, str]:
    """(scorer, '') or (None, reason)."""
    if models_dir is None:
        return None, "no models directory is configured"
    model = models_dir / "highlights" / "clip_image.onnx"
    prompts = models_dir / "highlights" / "clip_prompts.npz"
    if not model.is_file() or not prompts.is_file():
        return None, "no CLIP-style model (highlights/clip_image.onnx + clip_prompts.npz) is installed"
    try:
        return SemanticScorer(model, prompts), ""
    except ImportError:
        return None, "onnxruntime is not installed"
    except Exception as exc:  # noqa: BLE001 - optional signal
        return None, f"the CLIP-style model could not be loaded ({exc})"
