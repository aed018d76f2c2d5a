"""Tiny diffusion components with the real classes and file layouts (random weights), built
in seconds on the CPU: an SDXL inpainting pipeline folder, IP-Adapter SDXL / FaceID SDXL /
FaceID Plus v2 SDXL adapter files and a CLIP image encoder folder.

Sizes are tiny (a 2-level UNet with 64-d cross attention, a 2-level VAE, 32-d CLIP towers) but
every class, file name and key layout is the one the real weights use, so the code under
test walks the real path: ``from_pretrained(..., local_files_only=True)`` on a saved folder,
diffusers' ``load_ip_adapter`` on ``image_proj.*`` / ``ip_adapter.*`` weights, a 512-d
ArcFace identity input for FaceID, a CLIP hidden-state input for Plus v2. Nothing is fetched
from the network: the CLIP tokenizer is built from a byte-level vocabulary written here.
"""

from __future__ import annotations

import json
from pathlib import Path

#: ArcFace identity embedding width (the real FaceID input).
ID_DIM = 512
#: Hidden/projection width of the tiny CLIP towers (text and image).
CLIP_DIM = 32
#: Cross-attention width of the tiny UNet (2048 in SDXL).
CROSS_DIM = 64
#: File names of the real adapters (h94/IP-Adapter, h94/IP-Adapter-FaceID).
IP_ADAPTER_FILE = "ip-adapter_sdxl_vit-h.safetensors"
FACEID_FILE = "ip-adapter-faceid_sdxl.bin"
FACEID_PLUS_V2_FILE = "ip-adapter-faceid-plusv2_sdxl.bin"


def _byte_vocab(folder: Path) -> tuple[Path, Path, int]:
    """A CLIP BPE vocabulary of the 256 byte symbols (+ their end-of-word forms), no merges."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    symbols, shift = [], 0
    for b in range(256):
        if b in printable:
            symbols.append(chr(b))
        else:
            symbols.append(chr(256 + shift))
            shift += 1
    vocab = {s: i for i, s in enumerate(symbols)}
    for s in symbols:
        vocab[s + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), "utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", "utf-8")
    return folder / "vocab.json", folder / "merges.txt", len(vocab)


def tiny_sdxl_inpaint(folder: Path, *, seed: int = 0) -> Path:
    """A saved ``StableDiffusionXLInpaintPipeline`` folder (model_index.json + components):
    9-channel UNet with SDXL's text_time conditioning, 4-channel VAE (factor 4, native
    side 128 px), two CLIP text encoders, Euler scheduler. Returns ``folder``."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLInpaintPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    folder = Path(folder)
    vocab, merges, n_vocab = _byte_vocab(folder / "_tok")
    tok = CLIPTokenizer(str(vocab), str(merges), model_max_length=77)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=9,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
        cross_attention_dim=CROSS_DIM)
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4, sample_size=128)
    cfg = CLIPTextConfig(bos_token_id=n_vocab - 2, eos_token_id=n_vocab - 1, hidden_size=CLIP_DIM,
                         intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=4,
                         num_hidden_layers=5, pad_token_id=1, vocab_size=n_vocab,
                         hidden_act="gelu", projection_dim=CLIP_DIM)
    sched = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                   beta_schedule="scaled_linear", timestep_spacing="leading")
    pipe = StableDiffusionXLInpaintPipeline(
        vae=vae, text_encoder=CLIPTextModel(cfg), text_encoder_2=CLIPTextModelWithProjection(cfg),
        tokenizer=tok, tokenizer_2=tok, unet=unet, scheduler=sched, requires_aesthetics_score=False)
    pipe.save_pretrained(folder)
    for f in (vocab, merges):
        f.unlink()
    (folder / "_tok").rmdir()
    return folder


def tiny_clip_image_encoder(folder: Path, *, seed: int = 0) -> Path:
    """A saved ``CLIPVisionModelWithProjection`` folder (config.json + model.safetensors) in
    the layout of h94/IP-Adapter's ``models/image_encoder`` (ViT-H/14 there; 32-d, 32 px here).
    Returns ``folder``."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    cfg = CLIPVisionConfig(hidden_size=CLIP_DIM, intermediate_size=37, projection_dim=CLIP_DIM,
                           num_hidden_layers=3, num_attention_heads=4, image_size=32,
                           patch_size=8, hidden_act="gelu")
    CLIPVisionModelWithProjection(cfg).save_pretrained(folder)
    return Path(folder)


def _cross_attention_sizes(pipeline_dir: Path) -> list[int]:
    """Hidden size of each of the UNet's cross-attention (attn2) processors, in the order
    diffusers numbers them in an adapter's ``ip_adapter`` weights (1, 3, 5, ...)."""
    from diffusers import UNet2DConditionModel

    config = UNet2DConditionModel.load_config(Path(pipeline_dir) / "unet")
    unet = UNet2DConditionModel.from_config(config)
    chans = list(unet.config.block_out_channels)
    sizes = []
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            sizes.append(chans[-1])
        elif name.startswith("up_blocks"):
            sizes.append(list(reversed(chans))[int(name[len("up_blocks.")])])
        else:
            sizes.append(chans[int(name[len("down_blocks.")])])
    return sizes


def _ip_layers(pipeline_dir: Path, gen) -> dict:
    import torch

    out = {}
    for k, hidden in enumerate(_cross_attention_sizes(pipeline_dir)):
        key = 2 * k + 1
        out[f"{key}.to_k_ip.weight"] = torch.randn(hidden, CROSS_DIM, generator=gen) * 0.2
        out[f"{key}.to_v_ip.weight"] = torch.randn(hidden, CROSS_DIM, generator=gen) * 0.2
    return out


def _linear(prefix: str, n_out: int, n_in: int, gen, scale: float = 0.1) -> dict:
    import torch

    return {f"{prefix}.weight": torch.randn(n_out, n_in, generator=gen) * scale,
            f"{prefix}.bias": torch.randn(n_out, generator=gen) * 0.01}


def _norm(prefix: str, n: int) -> dict:
    import torch

    return {f"{prefix}.weight": torch.ones(n), f"{prefix}.bias": torch.zeros(n)}


def tiny_faceid_adapter(folder: Path, pipeline_dir: Path, *, plus_v2: bool, seed: int = 0) -> Path:
    """An IP-Adapter FaceID SDXL (``plus_v2`` False) or FaceID Plus v2 SDXL (True) weight file
    in the original ``.bin`` layout (``{"image_proj": ..., "ip_adapter": ...}``) for the tiny
    pipeline at ``pipeline_dir``. FaceID: MLP 512 -> 1024 -> 4 tokens + LayerNorm; Plus v2: the
    same MLP and a 4-layer face perceiver resampler over CLIP hidden states (``CLIP_DIM`` wide).
    Returns the file's path (``folder/ip-adapter-faceid[-plusv2]_sdxl.bin``)."""
    import torch

    gen = torch.Generator().manual_seed(seed + (7 if plus_v2 else 3))
    tokens = 4
    proj = {**_linear("proj.0", ID_DIM * 2, ID_DIM, gen), **_linear("proj.2", CROSS_DIM * tokens, ID_DIM * 2, gen),
            **_norm("norm", CROSS_DIM)}
    if plus_v2:
        dim, inner, ff = CROSS_DIM, 64, CROSS_DIM * 4  # one head of 64 (heads = dim // 64)
        pr = "perceiver_resampler"
        proj.update(_linear(f"{pr}.proj_in", dim, CLIP_DIM, gen))
        proj.update(_linear(f"{pr}.proj_out", CROSS_DIM, dim, gen))
        proj.update(_norm(f"{pr}.norm_out", CROSS_DIM))
        for i in range(4):
            layer = f"{pr}.layers.{i}"
            proj.update(_norm(f"{layer}.0.norm1", dim))
            proj.update(_norm(f"{layer}.0.norm2", dim))
            proj[f"{layer}.0.to_q.weight"] = torch.randn(inner, dim, generator=gen) * 0.1
            proj[f"{layer}.0.to_kv.weight"] = torch.randn(2 * inner, dim, generator=gen) * 0.1
            proj[f"{layer}.0.to_out.weight"] = torch.randn(dim, inner, generator=gen) * 0.1
            proj.update(_norm(f"{layer}.1.0", dim))
            proj[f"{layer}.1.1.weight"] = torch.randn(ff, dim, generator=gen) * 0.1
            proj[f"{layer}.1.3.weight"] = torch.randn(dim, ff, generator=gen) * 0.1
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (FACEID_PLUS_V2_FILE if plus_v2 else FACEID_FILE)
    torch.save({"image_proj": proj, "ip_adapter": _ip_layers(pipeline_dir, gen)}, path)
    return path


def tiny_ip_adapter(folder: Path, pipeline_dir: Path, *, seed: int = 0) -> Path:
    """A plain IP-Adapter SDXL weight file (``.safetensors``, keys ``image_proj.*`` and
    ``ip_adapter.*``) taking CLIP image embeddings (``CLIP_DIM``; 1024 for ViT-H) to 4 tokens.
    Returns the file's path (``folder/ip-adapter_sdxl_vit-h.safetensors``)."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed + 11)
    tensors = {f"image_proj.{k}": v for k, v in
               {**_linear("proj", CROSS_DIM * 4, CLIP_DIM, gen, 0.3), **_norm("norm", CROSS_DIM)}.items()}
    tensors.update({f"ip_adapter.{k}": v for k, v in _ip_layers(pipeline_dir, gen).items()})
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / IP_ADAPTER_FILE
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path


def tiny_portrait_models(root: Path) -> Path:
    """A models directory with everything the portrait's diffusers modes read: the pipeline
    folder and, under ``ip-adapter/``, the CLIP encoder, FaceID, FaceID Plus v2 and plain
    IP-Adapter files (the layout ``ops/portrait_inpaint.py`` expects)."""
    from reelsmith.ops.portrait_inpaint import PIPELINE_FOLDER

    pipe = tiny_sdxl_inpaint(root / PIPELINE_FOLDER)
    tiny_clip_image_encoder(root / "ip-adapter" / "image_encoder")
    tiny_faceid_adapter(root / "ip-adapter", pipe, plus_v2=False)
    tiny_faceid_adapter(root / "ip-adapter", pipe, plus_v2=True)
    tiny_ip_adapter(root / "ip-adapter", pipe)
    return root
