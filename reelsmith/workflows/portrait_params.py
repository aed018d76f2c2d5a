"""The portrait workflow's parameters: one pydantic model, with the names and defaults of the
IP-to-Portrait studio it replaces (``mode``, ``steps``, ``denoise``, ``face_strength``,
``stop_at``, ``include_hair``, ``expand``, ``blur``, ``padding``, ``pre_paste``...)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, field_validator

from reelsmith.ops.face_mask import MaskOptions
from reelsmith.workflows.faces_common import DetectorSpec
from reelsmith.workflows.post import PostFields
from reelsmith.workflows.schema import param

GENERATION = "Generation"
DIFFUSION = "Diffusion"
MASK = "Face mask"
PRE_PASTE = "Pre-paste"
FACE_POST = "Face post-processing"
FACES = "Faces"

Mode = Literal["auto", "simple_inpaint", "standard", "faceid", "faceid_plus_v2", "clip_blend"]

#: What the diffusion backend is told to avoid when the user says nothing.
DEFAULT_NEGATIVE = ("lowres, blurry, deformed face, distorted eyes, extra fingers, bad anatomy, "
                    "watermark, text, cartoon, painting")


class PortraitParams(PostFields):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "builtin", "diffusers"] = param(
        "auto", group=GENERATION, order=1,
        description="auto: diffusion when its weights are installed, else the builtin "
                    "compositor (the result says why); builtin; diffusers.")
    mode: Mode = param(
        "auto", group=GENERATION, order=2,
        description="Diffusion conditioning: simple_inpaint (prompt only), standard (CLIP image "
                    "of the face), faceid (identity embedding), faceid_plus_v2 (both; auto's "
                    "choice when its weights are there), clip_blend (the face's and the "
                    "reference's CLIP images mixed by face_strength).")
    count: int = param(1, ge=1, le=16, group=GENERATION, order=3,
                       description="How many results (OUT-1, OUT-2, ...), ranked by identity "
                                   "similarity to the face image.")
    seed: int | None = param(None, ge=0, le=2**32 - 1, group=GENERATION, order=4,
                             description="Seed of the first result (the next ones use seed+1, "
                                         "seed+2...); random when unset, and reported.")
    prompt: str = param("", max_length=2000, group=GENERATION, order=5,
                        description="What to generate; empty: a vision model's description of "
                                    "the face when one is configured, else a neutral default.")
    negative_prompt: str = param(DEFAULT_NEGATIVE, max_length=2000, group=GENERATION, order=6,
                                 advanced=True, description="What to avoid.")
    face_index: int | None = param(
        None, ge=0, le=64, group=FACES, order=40,
        description="Which face of the reference receives the new one (0 = the leftmost); "
                    "default the largest.")
    detector: DetectorSpec = param("auto", group=FACES, order=41, advanced=True,
                                   description="Face detector: auto, a backend name, or a YuNet "
                                               ".onnx path.")
    identity_model: str = param("auto", group=FACES, order=42, advanced=True,
                                examples=["auto", "arcface", "dlib", "none"],
                                description="Identity embedder used to rank and report "
                                            "similarity (none: do not measure).")
    # Diffusion.
    steps: int = param(30, ge=1, le=150, group=DIFFUSION, order=10, description="Denoising steps.")
    guidance_scale: float = param(5.5, ge=0, le=30, group=DIFFUSION, order=11,
                                  description="Classifier-free guidance scale.")
    denoise: float = param(0.9, gt=0, le=1, group=DIFFUSION, order=12,
                           description="How much of the masked region is regenerated (1: all).")
    face_strength: float = param(0.8, ge=0, le=2, group=DIFFUSION, order=13,
                                 description="IP-Adapter scale: how strongly the face image "
                                             "steers the generation.")
    stop_at: float = param(0.9, gt=0, le=1, group=DIFFUSION, order=14, advanced=True,
                           description="End denoising at this fraction of the schedule "
                                       "(diffusers' denoising_end; 1: run to the end).")
    size: int | None = param(None, ge=64, le=2048, multiple_of=8, unit="px", group=DIFFUSION,
                             order=15, advanced=True,
                             description="Generation size of the face region; default the "
                                         "model's native size (1024 for SDXL).")
    # Mask.
    mask_model: str = param("auto", group=MASK, order=50, advanced=True,
                            examples=["auto", "landmarks"],
                            description="auto (a face-parsing model when installed, else "
                                        "landmarks), landmarks, or a face-parsing model name/path.")
    include_hair: bool = param(True, group=MASK, order=51, description="Include the hair in the mask.")
    include_neck: bool = param(False, group=MASK, order=52, description="Include the neck in the mask.")
    expand: float = param(1.2, ge=0.5, le=3.0, unit="x", group=MASK, order=53,
                          description="Grow the mask about the face centre.")
    blur: float = param(30.0, ge=0, le=400, unit="px", group=MASK, order=54,
                        description="Feather width of the mask edge (pixels of the face "
                                    "normalised to a 512 px crop).")
    padding: float = param(50.0, ge=0, le=1000, unit="px", group=MASK, order=55,
                           description="Margin around the face region before feathering "
                                       "(same normalised pixels).")
    save_mask: bool = param(False, group=MASK, order=56, advanced=True,
                            description="Also write the mask as an image.")
    # Pre-paste.
    pre_paste: bool = param(False, group=PRE_PASTE, order=60,
                            description="Paste the aligned face first (the builtin compositor), "
                                        "then inpaint lightly over it.")
    pre_paste_denoise: float = param(0.65, gt=0, le=1, group=PRE_PASTE, order=61,
                                     description="Denoise of the light inpaint after a pre-paste.")
    # Face post-processing: the Faces steps.
    face_swap: bool = param(False, group=FACE_POST, order=70,
                            description="Swap the face image's face onto each result (face_swap).")
    swap_model: str = param("auto", group=FACE_POST, order=71, advanced=True,
                            examples=["auto", "builtin"],
                            description="Swap model: auto, builtin, a name or a path.")
    swap_refine: float = param(0.3, ge=0, le=1, group=FACE_POST, order=72,
                               description="How much of the generated face shows through the "
                                           "swap (0: the swap only).")
    face_enhance: bool = param(False, group=FACE_POST, order=73,
                               description="Restore the face after generation (face_restore).")
    enhance_strength: float = param(0.8, ge=0, le=1, group=FACE_POST, order=74,
                                    description="Face restore strength.")
    enhance_model: str = param("auto", group=FACE_POST, order=75, advanced=True,
                               examples=["auto", "builtin"],
                               description="Face restore model: auto, builtin, a name or a path.")

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _one_line(cls, v: str) -> str:
        return " ".join(str(v).split())

    def mask_options(self) -> MaskOptions:
        return MaskOptions(include_hair=self.include_hair, include_neck=self.include_neck,
                           expand=self.expand, blur=self.blur, padding=self.padding)

    @property
    def faces_choice(self) -> str:
        """The Faces steps' ``faces`` choice that names the same reference face."""
        return "largest" if self.face_index is None else str(self.face_index)
