"""RIFE 4.x (IFNet) frame interpolation, written from the RIFE paper (Huang et al., "Real-Time
Intermediate Flow Estimation for Video Frame Interpolation", ECCV 2022) and the key layout
of the Practical-RIFE 4.x checkpoints.

Architecture (4.x: no refinement network, arbitrary timestep as an input plane):

- Optional feature encoder ``encode`` applied to each frame (4.7+): a few 3x3 convs (first
  one stride 2, LeakyReLU 0.2 between) and a 4x4 stride-2 transposed conv back to full
  resolution with F channels. Layouts: ``encode.{0,1}`` (conv, deconv), ``encode.{0,2,4,6}``
  (with activations), ``encode.cnn{0..3}`` (the "Head" module).
- ``block0..blockN-1`` (IFBlocks), coarse to fine at scales 2^(N-1) .. 1 (8,4,2,1 for four
  blocks). Each block resizes its input by 1/scale, applies ``conv0`` (two 3x3 stride-2 convs
  with LeakyReLU, ``conv0.{0,1}.0``), ``convblock`` (8 residual convs with a learned per-
  channel ``beta`` -- ``convblock.i.conv``/``convblock.i.beta`` -- or plain convs with one
  outer residual in the oldest 4.x layouts), then ``lastconv`` (a 4x4 stride-2 transposed
  conv followed by PixelShuffle(2), ``lastconv.0``; or a bare transposed conv, ``lastconv``).
  The output, brought back to full size, carries 4 flow channels (t->0 and t->1), 1 fusion
  mask logit, and in 4.15+ layouts extra feature channels passed to the next block.
- Block 0 sees (img0, img1, f0, f1, t); later blocks see (img0 warped, img1 warped, f0
  warped, f1 warped, t, mask[, previous features]) plus the current flow, and add a flow
  residual. The result is ``sigmoid(mask) * warp(img0) + (1 - sigmoid(mask)) * warp(img1)``.

The structure (number of blocks, widths, encoder, feature passing) is read from the state
dict's tensor shapes, so one class loads the 4.0 to 4.2x checkpoints that follow this
layout; anything else is refused with a ModelError.

Published checkpoints (Practical-RIFE's ``flownet.pkl``) also carry tensors only training
uses: the privileged-distillation teacher block (``teacher.*``; ``block_tea.*`` in older
releases), which sees the ground-truth middle frame, and the trainer's timestep calibration
net (``caltime.*``). Inference never reads them, so they are dropped -- and listed in
``IFNet.ignored_keys`` so the model description reports them. Any other key that does not
fit the layout refuses the checkpoint. :func:`rife_version` tells a 4.x checkpoint from a
v3.x (HDv3: context net + refinement U-Net) one, so the 4.x loader can refuse the latter
with a sentence and the backend can hand it to a v3 loader.

Options at run time (as Practical-RIFE's): ``scale`` multiplies the resolution the flow is
estimated at (0.5 for 4K, "UHD"; 0.25, 1, 2 also allowed): every block works at
``block_scale / scale``. ``ensemble`` (layouts without feature passing only)
also runs each block on the swapped pair at 1 - t and averages flow and mask, as
Practical-RIFE 4.x did until 4.21 dropped it.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from reelsmith.errors import ModelError

_BLOCK_RE = re.compile(r"^block(\d+)\.")

#: Prefixes of tensors published checkpoints carry for training only (see module docstring).
TRAINING_ONLY_PREFIXES = ("teacher.", "block_tea.", "caltime.")
#: Flow-estimation scales Practical-RIFE accepts.
FLOW_SCALES = (0.25, 0.5, 1.0, 2.0)


def strip_prefix(sd: dict) -> dict:
    """Drop the ``module.`` prefix DataParallel checkpoints carry."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return sd


def is_rife_state_dict(sd: dict) -> bool:
    return any(k.startswith(("block0.conv0.", "module.block0.conv0.")) for k in sd)


def rife_version(sd: dict) -> str | None:
    """"4.x", "3.x" (HDv3 and earlier: a context net and refinement U-Net) or None (not RIFE).

    Shared by the 4.x loader here and the v3 loader (:mod:`reelsmith.models.rife_v3`)."""
    sd = strip_prefix(sd)
    if not is_rife_state_dict(sd):
        return None
    if any(k.startswith(("contextnet.", "unet.")) for k in sd):
        return "3.x"
    return "4.x"


def split_training_only(sd: dict) -> tuple[dict, list[str]]:
    """(the state dict without training-only tensors, the dropped key names, sorted)."""
    dropped = sorted(k for k in sd if k.startswith(TRAINING_ONLY_PREFIXES))
    return {k: v for k, v in sd.items() if not k.startswith(TRAINING_ONLY_PREFIXES)}, dropped


def ignored_summary(keys: list[str]) -> dict:
    """``{"count": 40, "prefixes": ["caltime", "teacher"]}`` for a model description."""
    return {"count": len(keys), "prefixes": sorted({k.split(".")[0] for k in keys})}


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class _ConvAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, stride, 1), _act())


class _ResConv(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, 0.2)


class IFBlock(nn.Module):
    def __init__(self, cin: int, c: int, *, n_conv: int, residual: bool, out_ch: int,
                 shuffle: bool) -> None:
        super().__init__()
        self.up = 1 if shuffle else 2  # lastconv output resolution: input/4 * 2 * (2 or 1)
        self.conv0 = nn.Sequential(_ConvAct(cin, c // 2, 2), _ConvAct(c // 2, c, 2))
        self.residual = residual
        self.convblock = nn.Sequential(*[(_ResConv(c) if residual else _ConvAct(c, c, 1))
                                         for _ in range(n_conv)])
        if shuffle:
            self.lastconv: nn.Module = nn.Sequential(nn.ConvTranspose2d(c, out_ch * 4, 4, 2, 1),
                                                     nn.PixelShuffle(2))
        else:
            self.lastconv = nn.ConvTranspose2d(c, out_ch, 4, 2, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None, scale: float) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        if scale != 1:
            x = _shrink(x, scale)
        if flow is not None:
            if scale != 1:
                flow = _shrink(flow, scale) / scale
            x = torch.cat((x, flow), 1)
        feat = self.conv0(x)
        feat = self.convblock(feat) if self.residual else self.convblock(feat) + feat
        out = self.lastconv(feat)
        factor = scale * self.up
        if factor != 1:
            out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
        return torch.cat((out[:, :4] * factor, out[:, 4:]), 1)


def _shrink(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Resample ``x`` by 1/scale, bilinear: by scale factor, as Practical-RIFE does; by size
    while tracing (ONNX export), which keeps the sides symbolic. On sides divisible by the
    scale (the model pads to ``size_multiple``) both sample the same points."""
    if float(scale).is_integer() and (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
        k = int(scale)
        return F.interpolate(x, size=(x.shape[2] // k, x.shape[3] // k), mode="bilinear",
                             align_corners=False)
    return F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)


class _Encoder(nn.Module):
    """Per-frame feature encoder; ``layers`` are (name, conv) pairs, activations between."""

    def __init__(self, layers: list[tuple[str, nn.Module]], acts: bool) -> None:
        super().__init__()
        self.names = [n for n, _ in layers]
        for n, m in layers:
            self.add_module(n, m)
        self.acts = acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, n in enumerate(self.names):
            x = getattr(self, n)(x)
            if self.acts and i < len(self.names) - 1:
                x = F.leaky_relu(x, 0.2)
        return x


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` at (x + flow_x, y + flow_y), bilinear, clamped at the border."""
    n, _, h, w = img.shape
    ys = torch.linspace(-1.0, 1.0, h, device=img.device, dtype=img.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=img.device, dtype=img.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    gx = gx[None] + flow[:, 0] * (2.0 / max(w - 1, 1))
    gy = gy[None] + flow[:, 1] * (2.0 / max(h - 1, 1))
    grid = torch.stack((gx, gy), dim=3)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


class IFNet(nn.Module):
    """RIFE 4.x flow network. ``interpolate(img0, img1, timestep, scale, ensemble)`` with NCHW
    float in [0,1] (sides multiples of ``size_multiple_for(scale)``) and timestep an N1HW
    plane (or N111). ``ignored_keys``: training-only tensors the checkpoint had."""

    def __init__(self, blocks: list[dict], encoder: _Encoder | None, feat_pass: int) -> None:
        super().__init__()
        for i, spec in enumerate(blocks):
            self.add_module(f"block{i}", IFBlock(**spec))
        self.n_blocks = len(blocks)
        if encoder is not None:
            self.encode = encoder
        self.has_encoder = encoder is not None
        self.feat_pass = feat_pass
        self.scales = [2 ** (self.n_blocks - 1 - i) for i in range(self.n_blocks)]
        self.size_multiple = self.size_multiple_for(1.0)
        self.ignored_keys: list[str] = []

    @property
    def supports_ensemble(self) -> bool:
        """Block-level ensembling is defined for layouts without feature passing only."""
        return not self.feat_pass

    def size_multiple_for(self, scale: float) -> int:
        """Sides must be multiples of this for flow scale ``scale`` (the coarsest block
        resamples by max(scales)/scale, then two stride-2 convs halve twice more)."""
        return max(4, int(round(max(self.scales) / scale * 4)))

    def forward(self, img0: torch.Tensor, img1: torch.Tensor,
                timestep: torch.Tensor) -> torch.Tensor:
        """The default run (scale 1, no ensemble): three inputs, as the ONNX form has."""
        return self.interpolate(img0, img1, timestep)

    def interpolate(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor,
                    scale: float = 1.0, ensemble: bool = False) -> torch.Tensor:
        """The frame at ``timestep``; flow estimated at ``scale`` x the resolution."""
        if ensemble and not self.supports_ensemble:
            raise ModelError("This RIFE checkpoint passes features between blocks (as 4.25 "
                             "does), which has no ensemble mode; turn ensemble off.")
        n, _, h, w = img0.shape
        timestep = timestep.expand(n, 1, h, w)
        if self.has_encoder:
            f0, f1 = self.encode(img0), self.encode(img1)
        else:
            f0 = f1 = img0[:, :0]
        w0, w1 = img0, img1
        flow = mask = feat = None
        for i in range(self.n_blocks):
            block = getattr(self, f"block{i}")
            s = self.scales[i] / scale
            if flow is None:
                out = block(torch.cat((img0, img1, f0, f1, timestep), 1), None, s)
                if ensemble:
                    rev = block(torch.cat((img1, img0, f1, f0, 1 - timestep), 1), None, s)
                    out = _average_swapped(out, rev)
                flow, mask = out[:, :4], out[:, 4:5]
            else:
                wf0, wf1 = backward_warp(f0, flow[:, :2]), backward_warp(f1, flow[:, 2:4])
                parts = [w0, w1, wf0, wf1, timestep, mask]
                if self.feat_pass:
                    parts.append(feat)
                out = block(torch.cat(parts, 1), flow, s)
                if ensemble:
                    rev = block(torch.cat((w1, w0, wf1, wf0, 1 - timestep, -mask), 1),
                                _swap(flow), s)
                    out = _average_swapped(out, rev)
                flow, mask = flow + out[:, :4], out[:, 4:5]
            feat = out[:, 5:5 + self.feat_pass] if self.feat_pass else None
            w0 = backward_warp(img0, flow[:, :2])
            w1 = backward_warp(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        return (w0 * m + w1 * (1 - m)).clamp(0, 1)


def _swap(flow: torch.Tensor) -> torch.Tensor:
    """t->0 / t->1 flows exchanged: what the same flow is for the swapped frame pair."""
    return torch.cat((flow[:, 2:4], flow[:, :2]), 1)


def _average_swapped(out: torch.Tensor, rev: torch.Tensor) -> torch.Tensor:
    """Average a block's output with its output on the swapped pair (flows exchanged back,
    mask logit negated: the swapped pair blends with 1 - mask)."""
    return torch.cat(((out[:, :4] + _swap(rev[:, :4])) / 2, (out[:, 4:5] - rev[:, 4:5]) / 2,
                      out[:, 5:]), 1)


def _shape(sd: dict, key: str) -> tuple[int, ...]:
    if key not in sd:
        raise ModelError(f"Not a RIFE 4.x state dict we recognise: missing {key}.")
    return tuple(sd[key].shape)


def _build_encoder(sd: dict) -> tuple[_Encoder | None, int]:
    keys = [k for k in sd if k.startswith("encode.") and k.endswith(".weight")]
    if not keys:
        return None, 0
    names = sorted({k[len("encode."):-len(".weight")] for k in keys},
                   key=lambda s: int(re.sub(r"\D", "", s) or 0))
    layers: list[tuple[str, nn.Module]] = []
    feat = 0
    for i, n in enumerate(names):
        shp = _shape(sd, f"encode.{n}.weight")
        if shp[2] == 4:  # transposed conv: weight is (in, out, k, k)
            layers.append((n, nn.ConvTranspose2d(shp[0], shp[1], 4, 2, 1)))
            feat = shp[1]
        else:
            layers.append((n, nn.Conv2d(shp[1], shp[0], shp[2], 2 if i == 0 else 1,
                                        shp[2] // 2)))
    digits = [n for n in names if n.isdigit()]
    acts = not digits or any(int(b) - int(a) > 1 for a, b in zip(digits, digits[1:], strict=False))
    return _Encoder([(n.replace(".", "_"), m) for n, m in layers], acts), feat


def ifnet_from_state_dict(sd: dict) -> IFNet:
    """Build an IFNet whose structure matches ``sd`` and load it.

    ``module.`` prefixes are stripped and training-only tensors dropped (listed in the
    result's ``ignored_keys``); every other tensor must fit the 4.x layout. A v3.x (HDv3)
    checkpoint is refused with a sentence saying so."""
    sd = strip_prefix(sd)
    if rife_version(sd) == "3.x":
        raise ModelError("This is a RIFE v3.x (HDv3) checkpoint (it has a context network and "
                         "a refinement U-Net), not RIFE 4.x; the 4.x loader cannot run it.")
    sd, dropped = split_training_only(sd)
    idx = sorted({int(m.group(1)) for k in sd if (m := _BLOCK_RE.match(k))})
    if not idx or idx != list(range(len(idx))):
        raise ModelError("Not a RIFE 4.x state dict: no consecutive block0..blockN keys.")
    encoder, fch = _build_encoder(sd)
    blocks = []
    feat_pass = 0
    for i in idx:
        p = f"block{i}."
        c_half, cin = _shape(sd, p + "conv0.0.0.weight")[:2]
        c = _shape(sd, p + "conv0.1.0.weight")[0]
        residual = any(k.startswith(p + "convblock.0.beta") for k in sd)
        n_conv = len({k.split(".")[2] for k in sd if k.startswith(p + "convblock.")})
        if p + "lastconv.0.weight" in sd:
            out_ch, shuffle = _shape(sd, p + "lastconv.0.weight")[1] // 4, True
        else:
            out_ch, shuffle = _shape(sd, p + "lastconv.weight")[1], False
        if out_ch < 5:
            raise ModelError(f"RIFE block{i} predicts {out_ch} channels; expected >= 5.")
        if i == 0:
            if cin != 7 + 2 * fch:
                raise ModelError(f"RIFE block0 takes {cin} channels; this layout expects "
                                 f"{7 + 2 * fch} (img0, img1, 2x{fch} features, t).")
        else:
            extra = cin - (12 + 2 * fch)
            if extra not in (0, out_ch - 5):
                raise ModelError(f"RIFE block{i} takes {cin} channels; not a 4.x layout this "
                                 "loader knows.")
            feat_pass = max(feat_pass, extra)
        blocks.append({"cin": cin, "c": c, "n_conv": n_conv, "residual": residual,
                       "out_ch": out_ch, "shuffle": shuffle})
        del c_half
    net = IFNet(blocks, encoder, feat_pass)
    renamed = {}
    for k, v in sd.items():
        if k.startswith("encode."):
            head, _, tail = k[len("encode."):].rpartition(".")
            k = f"encode.{head.replace('.', '_')}.{tail}"
        renamed[k] = v
    missing, unexpected = net.load_state_dict(renamed, strict=False)
    if missing or unexpected:
        raise ModelError(f"RIFE state dict does not match the 4.x layout (missing: "
                         f"{missing[:4]}, unexpected: {unexpected[:4]}); it is not a "
                         "RIFE 4.x checkpoint this loader knows.")
    net.ignored_keys = dropped
    return net.eval()


def make_random_ifnet(*, widths=(192, 128, 96, 64), enc: str = "head", feat: int = 8,
                      feat_pass: int = 0, n_conv: int = 8, seed: int = 0) -> IFNet:
    """An IFNet with random weights in the published layout (tests and benchmarks).

    ``enc``: "head" (encode.cnn0..3, 4.10+ style), "seq2" (encode.0/1, 4.7 style) or
    "none" (4.0-4.6 style, no encoder)."""
    torch.manual_seed(seed)
    if enc == "head":
        layers = [("cnn0", nn.Conv2d(3, 32, 3, 2, 1)), ("cnn1", nn.Conv2d(32, 32, 3, 1, 1)),
                  ("cnn2", nn.Conv2d(32, 32, 3, 1, 1)), ("cnn3", nn.ConvTranspose2d(32, feat, 4, 2, 1))]
        encoder: _Encoder | None = _Encoder(layers, True)
    elif enc == "seq2":
        encoder = _Encoder([("0", nn.Conv2d(3, 16, 3, 2, 1)),
                            ("1", nn.ConvTranspose2d(16, feat, 4, 2, 1))], False)
    else:
        encoder, feat = None, 0
    out_ch = 5 + feat_pass if feat_pass else 6
    blocks = []
    for i, c in enumerate(widths):
        cin = 7 + 2 * feat if i == 0 else 12 + 2 * feat + feat_pass
        blocks.append({"cin": cin, "c": c, "n_conv": n_conv, "residual": True,
                       "out_ch": out_ch, "shuffle": True})
    net = IFNet(blocks, encoder, feat_pass)
    with torch.no_grad():  # small flows so random nets still produce sane images
        for i in range(len(widths)):
            getattr(net, f"block{i}").lastconv[0].weight.mul_(0.05)
    return net.eval()


def published_state_dict(net: IFNet) -> dict[str, torch.Tensor]:
    """``net``'s weights under the published key names (``encode.0.weight`` etc.)."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}
