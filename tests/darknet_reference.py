"""A second, independent Darknet implementation for the importer's tests: it runs a cfg +
weights file directly in numpy, layer by layer as darknet's C code does (batch norm applied,
not folded; max-pool windows placed by darknet's offset rule; [yolo] boxes computed per cell),
and writes the small random models the tests convert."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def parse(path: Path) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("["):
            sections.append((line.strip("[]"), {}))
        elif "=" in line:
            k, v = line.split("=", 1)
            sections[-1][1][k.strip()] = v.strip()
    return sections


def _act(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "leaky":
        return np.where(x > 0, x, 0.1 * x)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "logistic":
        return 1 / (1 + np.exp(-x))
    if kind == "swish":
        return x / (1 + np.exp(-x))
    if kind == "mish":
        return x * np.tanh(np.log1p(np.exp(x)))
    assert kind == "linear", kind
    return x


def _conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int, groups: int) -> np.ndarray:
    _, h, wd = x.shape
    f, cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.empty((f, oh, ow), np.float64)
    per_group = f // groups
    for g in range(groups):
        xs = xp[g * cg : (g + 1) * cg]
        cols = np.lib.stride_tricks.sliding_window_view(xs, (k, k), axis=(1, 2))
        cols = cols[:, ::stride, ::stride][:, :oh, :ow]  # [cg, oh, ow, k, k]
        wg = w[g * per_group : (g + 1) * per_group]
        out[g * per_group : (g + 1) * per_group] = np.einsum("chwij,fcij->fhw", cols, wg)
    return out


def _maxpool(x: np.ndarray, size: int, stride: int, pad: int) -> np.ndarray:
    c, h, w = x.shape
    oh, ow = (h + pad - size) // stride + 1, (w + pad - size) // stride + 1
    offset = -(pad // 2)
    out = np.full((c, oh, ow), -np.inf)
    for i in range(oh):
        for j in range(ow):
            for di in range(size):
                for dj in range(size):
                    y, xx = offset + i * stride + di, offset + j * stride + dj
                    if 0 <= y < h and 0 <= xx < w:
                        out[:, i, j] = np.maximum(out[:, i, j], x[:, y, xx])
    return out


def forward(cfg: Path, weights: Path, image: np.ndarray) -> np.ndarray:
    """``image`` is C×H×W float in 0..1; returns the [N, 5 + C] rows the importer's ONNX gives:
    anchor-major per head (darknet's own memory order), heads in cfg order."""
    sections = parse(cfg)
    data = Path(weights).read_bytes()
    major, minor = np.frombuffer(data, np.int32, 2)
    values = np.frombuffer(data, np.float32, offset=20 if major * 10 + minor >= 2 else 16)
    used = 0

    def take(n: int) -> np.ndarray:
        nonlocal used
        used += n
        return values[used - n : used].astype(np.float64)

    net_h, net_w = image.shape[1:]
    x = image.astype(np.float64)
    outputs: list[np.ndarray] = []
    rows = []
    for i, (kind, o) in enumerate(sections[1:]):
        if kind == "convolutional":
            f, k = int(o["filters"]), int(o.get("size", 1))
            stride, groups = int(o.get("stride", 1)), int(o.get("groups", 1))
            pad = k // 2 if int(o.get("pad", 0)) else int(o.get("padding", 0))
            bn = int(o.get("batch_normalize", 0))
            if bn:
                beta, gamma, mean, var = take(f), take(f), take(f), take(f)
            else:
                bias = take(f)
            w = take(f * (x.shape[0] // groups) * k * k).reshape(f, x.shape[0] // groups, k, k)
            x = _conv(x, w, stride, pad, groups)
            if bn:
                x = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
                x = x * gamma[:, None, None] + beta[:, None, None]
            else:
                x = x + bias[:, None, None]
            x = _act(x, o.get("activation", "logistic"))
        elif kind == "maxpool":
            size = int(o.get("size", 1))
            x = _maxpool(x, size, int(o.get("stride", size)), int(o.get("padding", size - 1)))
        elif kind == "route":
            groups, gid = int(o.get("groups", 1)), int(o.get("group_id", 0))
            parts = []
            for v in o["layers"].split(","):
                t = outputs[i + int(v) if int(v) < 0 else int(v)]
                n = t.shape[0] // groups
                parts.append(t[gid * n : (gid + 1) * n])
            x = np.concatenate(parts)
        elif kind == "shortcut":
            x = _act(outputs[i - 1] + outputs[i + int(o["from"])], o.get("activation", "linear"))
        elif kind == "upsample":
            s = int(o.get("stride", 2))
            x = x.repeat(s, axis=1).repeat(s, axis=2)
        elif kind == "yolo":
            anchors = np.array([float(a) for a in o["anchors"].split(",")]).reshape(-1, 2)
            mask = [int(m) for m in o["mask"].split(",")]
            classes, scale = int(o["classes"]), float(o.get("scale_x_y", 1))
            new_coords = int(o.get("new_coords", 0))
            _, lh, lw = x.shape
            for a, m in enumerate(mask):
                t = x[a * (5 + classes) : (a + 1) * (5 + classes)]
                p = t if new_coords else _act(t, "logistic")
                for r in range(lh):
                    for c in range(lw):
                        bx = (c + p[0, r, c] * scale - 0.5 * (scale - 1)) / lw * net_w
                        by = (r + p[1, r, c] * scale - 0.5 * (scale - 1)) / lh * net_h
                        if new_coords:
                            bw = (2 * t[2, r, c]) ** 2 * anchors[m, 0]
                            bh = (2 * t[3, r, c]) ** 2 * anchors[m, 1]
                        else:
                            bw = np.exp(t[2, r, c]) * anchors[m, 0]
                            bh = np.exp(t[3, r, c]) * anchors[m, 1]
                        rows.append([bx, by, bw, bh, *p[4:, r, c]])
        else:
            raise ValueError(kind)
        outputs.append(x)
    assert used == values.size, f"{values.size - used} weights unused"
    return np.array(rows, np.float32)


def write_weights(path: Path, cfg: Path, rng: np.random.Generator, extra: int = 0) -> None:
    """Random weights for ``cfg`` (version 0.2 header); variances stay positive."""
    sections = parse(cfg)
    channels = [int(sections[0][1].get("channels", 3))]
    chunks = []
    for i, (kind, o) in enumerate(sections[1:]):
        c = channels[-1]
        if kind == "convolutional":
            f, k, g = int(o["filters"]), int(o.get("size", 1)), int(o.get("groups", 1))
            if int(o.get("batch_normalize", 0)):
                chunks += [rng.normal(0, 0.1, f), rng.uniform(0.5, 1.5, f)]
                chunks += [rng.normal(0, 0.1, f), rng.uniform(0.5, 2.0, f)]
            else:
                chunks.append(rng.normal(0, 0.1, f))
            chunks.append(rng.normal(0, (c // g * k * k) ** -0.5, f * (c // g) * k * k))
            c = f
        elif kind == "route":
            groups = int(o.get("groups", 1))
            c = (
                sum(
                    channels[1:][i + int(v) if int(v) < 0 else int(v)]
                    for v in o["layers"].split(",")
                )
                // groups
            )
        channels.append(c)
    header = np.array([0, 2, 5], np.int32).tobytes() + np.array([32013312], np.int64).tobytes()
    body = np.concatenate([*chunks, np.zeros(extra)]).astype(np.float32).tobytes()
    Path(path).write_bytes(header + body)
