"""The one renderer: points -> density grid -> colours -> images.

Export, gaze and live all draw through this module ("aggregate, then shade",
as datashader puts it), so a colormap, a scale or a blend looks the same
everywhere and is fixed in one place. Everything works on numpy arrays and
OpenCV; nothing here needs a display.

Conventions: arrays are indexed [y, x] (row = y, down; column = x, right);
colours are BGR like OpenCV, RGBA only for the transparent heatmap PNG.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from trackheat.errors import UserError

# -- colormaps ---------------------------------------------------------------
COLORMAPS: dict[str, int] = {
    name[len("COLORMAP_"):].lower(): int(getattr(cv2, name)) for name in sorted(dir(cv2)) if name.startswith("COLORMAP_")
}
DEFAULT_COLORMAP = "turbo"
LOG_RANGE = 1000.0  # `log` shows three decades: a value 1/1000 of the top maps to 0 %
DEFAULT_THRESHOLD = 0.02  # values under 2 % of the top are fully transparent
DEFAULT_MIN_ALPHA = 96  # alpha just above the threshold; rises to 255 over ALPHA_RAMP
ALPHA_RAMP = 0.35


def colormap_id(name: str | int) -> int:
    """An OpenCV colormap id from its lowercase name (or an id passed through)."""
    if isinstance(name, (int, np.integer)):
        if int(name) not in COLORMAPS.values():
            raise UserError(f"unknown colormap id {name}")
        return int(name)
    key = str(name).strip().lower().replace("-", "_")
    if key.startswith("colormap_"):
        key = key[len("colormap_"):]
    if key not in COLORMAPS:
        raise UserError(f"--colormap: unknown colormap {name!r}; known: {', '.join(COLORMAPS)}")
    return COLORMAPS[key]


# -- scales ------------------------------------------------------------------
def parse_scale(scale: str) -> tuple[str, float]:
    """('max'|'log'|'sqrt', 0) or ('p', NN.N) for a percentile clip; UserError otherwise."""
    s = str(scale).strip().lower()
    if s in ("max", "log", "sqrt", "linear"):
        return ("max" if s == "linear" else s), 0.0
    if s.startswith("p"):
        try:
            q = float(s[1:])
        except ValueError:
            q = -1.0
        if 0.0 < q <= 100.0:
            return "p", q
    raise UserError(f"--scale: expected max, pNN (a percentile such as p99.5), log or sqrt; got {scale!r}")


def scale_top(density: np.ndarray, scale: str = "max") -> float:
    """The absolute value that maps to 100 %: the maximum, or the percentile of the active pixels.

    The percentile is taken over pixels with any activity: on a desktop most
    pixels are zero, and a percentile over all of them would clip everything.
    """
    kind, q = parse_scale(scale)
    if density.size == 0:
        return 0.0
    top = float(np.max(density))
    if kind != "p" or top <= 0.0 or q >= 100.0:
        return top
    active = density[density > top * 1e-6]
    if active.size == 0:
        return top
    return float(np.percentile(active, q))


def normalize(density: np.ndarray, scale: str = "max", out: np.ndarray | None = None, *, top: float | None = None) -> np.ndarray:
    """Density -> float32 0..1 (0 % .. 100 %) under a scale.

    max: linear up to the maximum (the seeds' way). pNN.N: linear, clipped at
    that percentile of the active pixels, so one resting spot does not wash
    out the rest. log: three decades below the top. sqrt: square root of the
    linear value. `top` fixes the 100 % value (live uses it to avoid flicker).
    """
    kind, _ = parse_scale(scale)
    d = np.asarray(density)
    if out is None:
        out = np.empty(d.shape, np.float32)
    if top is None:
        top = scale_top(d, scale)
    if not top > 0.0:
        out[...] = 0.0
        return out
    np.multiply(d, np.float32(1.0 / top), out=out, casting="unsafe")
    np.clip(out, 0.0, 1.0, out=out)
    if kind == "log":
        np.multiply(out, np.float32(LOG_RANGE), out=out)
        np.log1p(out, out=out)
        np.multiply(out, np.float32(1.0 / math.log1p(LOG_RANGE)), out=out)
    elif kind == "sqrt":
        np.sqrt(out, out=out)
    return out


def normalize_u8(density: np.ndarray, scale: str = "max", out: np.ndarray | None = None, *, top: float | None = None) -> np.ndarray:
    """Density -> uint8 0..255, the per-frame fast path for `max` (one cv2 call)."""
    kind, _ = parse_scale(scale)
    d = np.asarray(density)
    if kind in ("max", "p") and d.dtype in (np.float32, np.float64, np.uint8, np.uint16, np.int32):
        if top is None:
            top = scale_top(d, scale)
        if out is None:
            out = np.empty(d.shape, np.uint8)
        if not top > 0.0:
            out[...] = 0
            return out
        # convertScaleAbs saturates to 0..255; inputs are non-negative, so abs() is a no-op.
        return cv2.convertScaleAbs(d, dst=out, alpha=255.0 / top)
    return to_u8(normalize(d, scale, top=top), out=out)


def to_u8(values01: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """0..1 floats -> 0..255 uint8 (saturating, rounded)."""
    return cv2.convertScaleAbs(np.asarray(values01, np.float32), dst=out, alpha=255.0)


def scale_value(fraction: float, top: float, scale: str = "max") -> float:
    """The absolute value shown at a colour-bar position (inverse of `normalize`)."""
    kind, _ = parse_scale(scale)
    f = min(max(float(fraction), 0.0), 1.0)
    if kind == "log":
        return top * math.expm1(f * math.log1p(LOG_RANGE)) / LOG_RANGE
    if kind == "sqrt":
        return top * f * f
    return top * f


# -- colour ------------------------------------------------------------------
def apply_colormap(values: np.ndarray, colormap: str | int = DEFAULT_COLORMAP, out: np.ndarray | None = None) -> np.ndarray:
    """0..1 floats or 0..255 uint8 -> BGR uint8. uint8 input is one cv2.applyColorMap call."""
    cmap = colormap_id(colormap)
    v = values if values.dtype == np.uint8 else to_u8(values)
    if out is not None:
        cv2.applyColorMap(v, cmap, dst=out)
        return out
    return cv2.applyColorMap(v, cmap)


def alpha_channel(values01: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD, min_alpha: int = DEFAULT_MIN_ALPHA, ramp: float = ALPHA_RAMP) -> np.ndarray:
    """uint8 alpha: 0 at or under the threshold, then min_alpha rising to 255 over `ramp`.

    Cold areas stay transparent so an overlay shows the screen where nothing
    happened (users of MouseTracks and heatmap.js ask for exactly this
    instead of a blue background).
    """
    v = np.asarray(values01, np.float32)
    a = (v - np.float32(threshold)) * np.float32((255.0 - min_alpha) / max(ramp, 1e-6)) + np.float32(min_alpha)
    np.clip(a, min_alpha, 255.0, out=a)
    a[v <= threshold] = 0.0
    a[~(v > 0.0)] = 0.0
    return a.astype(np.uint8)


def colorize(
    density: np.ndarray,
    colormap: str | int = DEFAULT_COLORMAP,
    scale: str = "max",
    min_alpha: int = DEFAULT_MIN_ALPHA,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    top: float | None = None,
) -> np.ndarray:
    """Density -> RGBA uint8 (H, W, 4): transparent where there was no activity."""
    v = normalize(density, scale, top=top)
    bgr = apply_colormap(v, colormap)
    rgba = np.empty(v.shape + (4,), np.uint8)
    cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA, dst=rgba)
    rgba[..., 3] = alpha_channel(v, threshold=threshold, min_alpha=min_alpha)
    return rgba


def overlay(background_bgr: np.ndarray, rgba: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """The heat over a background, weighted per pixel by the heat's alpha times `alpha`."""
    bg = np.asarray(background_bgr)
    if bg.ndim == 2:
        bg = cv2.cvtColor(bg, cv2.COLOR_GRAY2BGR)
    elif bg.shape[2] == 4:
        bg = cv2.cvtColor(bg, cv2.COLOR_BGRA2BGR)
    h, w = rgba.shape[:2]
    if bg.shape[:2] != (h, w):
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_AREA if bg.shape[0] > h else cv2.INTER_LINEAR)
    a = rgba[..., 3].astype(np.float32) * np.float32(min(max(alpha, 0.0), 1.0) / 255.0)
    a = a[..., None]
    heat = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR).astype(np.float32)
    out = bg.astype(np.float32)
    out += (heat - out) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def blend(frame_bgr: np.ndarray, heat_bgr: np.ndarray, alpha: float, out: np.ndarray | None = None) -> np.ndarray:
    """frame*(1-alpha) + heat*alpha in one cv2.addWeighted call (live, per frame)."""
    a = min(max(float(alpha), 0.0), 1.0)
    if out is not None:
        cv2.addWeighted(frame_bgr, 1.0 - a, heat_bgr, a, 0.0, dst=out)
        return out
    return cv2.addWeighted(frame_bgr, 1.0 - a, heat_bgr, a, 0.0)


# -- colour bar and title ------------------------------------------------------
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def fmt_amount(v: float) -> str:
    """A short number for a label: 0.42, 3.5, 87, 1.2k, 3.4M."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3g}"
    if a == 0:
        return "0"
    return f"{v:.2g}"


def _text(img: np.ndarray, text: str, org: tuple[int, int], fs: float, color=(235, 235, 235), thick: int = 1) -> None:
    # Hershey fonts are ASCII only; keep labels ASCII.
    text = text.encode("ascii", "replace").decode()
    cv2.putText(img, text, org, _FONT, fs, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, fs, color, thick, cv2.LINE_AA)


def draw_colorbar(
    image_bgr: np.ndarray,
    colormap: str | int = DEFAULT_COLORMAP,
    label: str = "",
    *,
    unit: str = "",
    top: float | None = None,
    scale: str = "max",
    title: str | None = None,
    background=(32, 32, 32),
) -> np.ndarray:
    """A new BGR image: `image_bgr` with a title strip above and a colour bar at the right.

    The bar reads 0-100 % at five ticks; with `top` (the absolute value at
    100 %) and `unit`, each tick also shows its absolute amount under the
    scale in use (so a log bar says what 50 % really means). Drawn outside
    the picture so it never hides a part of the screen; sized from the
    image height so it stays readable from 640x480 to 4K.
    """
    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    u = max(min(h, w * 9 // 16) / 720.0, 0.5)  # layout unit: 1.0 at 720p
    fs = 0.5 * u
    thick = max(1, int(round(u)))
    (_, th), _ = cv2.getTextSize("0 %", _FONT, fs, thick)
    title_h = int(round(th * 2.6)) if title else 0
    tick_texts = []
    for i in range(5):
        f = i / 4
        t = f"{int(f * 100)} %"
        if top is not None and top > 0:
            t += f"  {fmt_amount(scale_value(f, top, scale))}"
        tick_texts.append(t)
    label_lines = [s for s in (label, f"({unit})" if unit and top is not None and top > 0 else "") if s]
    text_w = max([cv2.getTextSize(t, _FONT, fs, thick)[0][0] for t in tick_texts + label_lines] + [0])
    bar_w = int(round(18 * u))
    pad = int(round(12 * u))
    panel_w = pad + bar_w + pad // 2 + text_w + pad
    out = np.empty((h + title_h, w + panel_w, 3), np.uint8)
    out[...] = background
    out[title_h:, :w] = img
    if title:
        _text(out, title, (pad, int(round(title_h * 0.68))), fs * 1.1, thick=thick)
    # The bar: 100 % at the top.
    y0 = title_h + pad + (len(label_lines) + 1) * int(th * 1.8)
    y1 = title_h + h - pad - th
    if y1 - y0 < 20:
        y0, y1 = title_h + pad, title_h + max(h - pad, pad + 20)
    n = max(y1 - y0, 2)
    ramp = np.linspace(1.0, 0.0, n, dtype=np.float32).reshape(-1, 1)
    colours = apply_colormap(np.repeat(ramp, bar_w, axis=1), colormap)
    x0 = w + pad
    out[y0:y0 + n, x0:x0 + bar_w] = colours
    cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + bar_w, y0 + n), (200, 200, 200), 1)
    for i, t in enumerate(label_lines):
        _text(out, t, (x0, title_h + pad + th + i * int(th * 1.8)), fs, thick=thick)
    tx = x0 + bar_w + pad // 2
    for i, t in enumerate(tick_texts):
        y = y0 + n - 1 - int(round(i / 4 * (n - 1)))
        cv2.line(out, (x0 + bar_w, y), (x0 + bar_w + pad // 3, y), (220, 220, 220), thick)
        _text(out, t, (tx, min(max(y + th // 2, y0 + th), y0 + n)), fs, thick=thick)
    return out


def rgb_of(colormap: str | int, fraction: float) -> tuple[int, int, int]:
    """The BGR colour a colormap gives a 0..1 value (for legends and tests)."""
    px = apply_colormap(np.array([[fraction]], np.float32), colormap)
    return tuple(int(c) for c in px[0, 0])


__all__: Sequence[str] = [
    "COLORMAPS", "colormap_id", "parse_scale", "scale_top", "normalize", "normalize_u8", "to_u8", "scale_value",
    "apply_colormap", "alpha_channel", "colorize", "overlay", "blend", "draw_colorbar", "fmt_amount", "rgb_of",
]
