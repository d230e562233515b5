"""Colour: 0..1 levels -> colormap colours, a transparent heatmap, and blends over a picture.

Export, gaze, the viewer and live all colour through here, so a colormap
looks the same everywhere. Colours are BGR like OpenCV, RGBA only for the
transparent heatmap PNG.
"""

from __future__ import annotations

import functools
import threading

import cv2
import numpy as np

from trackheat import defaults
from trackheat.arrays import fresh_array
from trackheat.errors import UserError
from trackheat.render.scale import Scale, normalize_u8, to_u8

COLORMAPS: dict[str, int] = {
    name[len("COLORMAP_"):].lower(): int(getattr(cv2, name)) for name in sorted(dir(cv2)) if name.startswith("COLORMAP_")
}
# A diverging map for differences (the viewer's A - B): OpenCV has none. ColorBrewer's RdBu,
# blue (level 0, "less") through light grey (the middle, "equal") to red (level 255, "more").
# Its alpha grows with the distance from the middle, so "no difference" is transparent.
DIVERGING = "diverging"
DIVERGING_ID = 1000  # no OpenCV colormap uses this id
COLORMAPS[DIVERGING] = DIVERGING_ID
_RDBU = [(5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
         (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31)]  # RGB
DEFAULT_COLORMAP = defaults.COLORMAP
DEFAULT_THRESHOLD = 0.02  # values at or under 2 % of the top are fully transparent
DEFAULT_MIN_ALPHA = 0  # alpha just above the threshold (0: no visible edge); rises to 255 over ALPHA_RAMP
ALPHA_RAMP = 0.3
DEFAULT_ALPHA = defaults.ALPHA  # the heat's weight over a picture (export's overlay, live's per-level blend)


def colormap_id(name: str | int) -> int:
    """An OpenCV colormap id from its lowercase name (or an id passed through)."""
    if isinstance(name, (int, np.integer)):
        if int(name) not in COLORMAPS.values():
            raise UserError(f"unknown colormap id {name}", param="colormap")
        return int(name)
    key = str(name).strip().lower().replace("-", "_")
    if key.startswith("colormap_"):
        key = key[len("colormap_"):]
    if key not in COLORMAPS:
        raise UserError(f"unknown colormap {name!r}; known: {', '.join(COLORMAPS)}", param="colormap")
    return COLORMAPS[key]


_LEVELS_MAX = 1 << 25  # pixels: keep the per-thread level buffer up to this size (32 MB)
_colour_local = threading.local()


def _levels(shape: tuple[int, ...]) -> np.ndarray:
    """colorize's 0..255 levels: a per-thread buffer reused between calls (it never leaves
    colorize, which returns only the lookup's output), so no fresh 8 MB to fault in at 4K."""
    buf = getattr(_colour_local, "u8", None)
    if buf is None or buf.shape != tuple(shape):
        buf = np.empty(shape, np.uint8)
        if buf.size <= _LEVELS_MAX:
            _colour_local.u8 = buf
    return buf


def apply_colormap(values: np.ndarray, colormap: str | int = DEFAULT_COLORMAP, out: np.ndarray | None = None) -> np.ndarray:
    """0..1 floats or 0..255 uint8 -> BGR uint8. uint8 input is the per-frame fast path."""
    cmap = colormap_id(colormap)
    v = values if values.dtype == np.uint8 else to_u8(values)
    if v.ndim != 2 and cmap == DIVERGING_ID:
        return np.ascontiguousarray(_colormap_table(cmap)[v])
    if v.ndim != 2:
        return cv2.applyColorMap(v, cmap, dst=out) if out is not None else cv2.applyColorMap(v, cmap)
    packed = cv2.LUT(v, _lut32(cmap, None, 0, False))  # BGR0 per pixel in one lookup
    bgra = packed.view(np.uint8).reshape(v.shape + (4,))
    if out is not None:
        cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR, dst=out)
        return out
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)


def alpha_lut(threshold: float | None = DEFAULT_THRESHOLD, min_alpha: int = DEFAULT_MIN_ALPHA, ramp: float = ALPHA_RAMP) -> np.ndarray:
    """Alpha per 0..255 level: 0 at or under the threshold, then min_alpha rising to 255 over `ramp`.

    Cold areas stay transparent so an overlay shows the screen where nothing
    happened (users of MouseTracks and heatmap.js ask for exactly this
    instead of a blue background). Level 0 is always transparent.
    """
    v = np.arange(256, dtype=np.float64) / 255.0
    if threshold is None:
        return np.full(256, 255, np.uint8)
    a = min_alpha + (v - threshold) * ((255.0 - min_alpha) / max(ramp, 1e-6))
    a = np.clip(np.rint(a), max(min_alpha, 1), 255)  # above the threshold: never fully transparent
    a[(v <= threshold) | (v <= 0)] = 0
    return a.astype(np.uint8)


@functools.lru_cache(maxsize=64)
def _colormap_table(cmap: int) -> np.ndarray:
    """(256, 3) uint8: the BGR colour of every level, the one source of the lookup tables below."""
    if cmap == DIVERGING_ID:
        stops = np.linspace(0, 255, len(_RDBU))
        rgb = np.array(_RDBU, np.float64)
        table = np.stack([np.interp(np.arange(256), stops, rgb[:, c]) for c in (2, 1, 0)], axis=1).round().astype(np.uint8)
        table.setflags(write=False)
        return table
    table = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), cmap)[0]
    table.setflags(write=False)  # cached and shared
    return table


@functools.lru_cache(maxsize=64)
def _lut32(cmap: int, threshold: float | None, min_alpha: int, rgba: bool) -> np.ndarray:
    """A (1, 256) int32 table whose 4 bytes are one pixel: RGBA (alpha ramp) or BGR0.

    cv2.LUT with an int32 table writes a whole 4-channel pixel per lookup: at
    4K that is 5.5 ms against 17 ms for four 1-channel lookups and a merge,
    and 9 ms for cv2.applyColorMap.
    """
    bgr = _colormap_table(cmap)
    table = np.zeros((256, 4), np.uint8)
    if rgba:
        table[:, :3] = bgr[:, ::-1]
        alpha = alpha_lut(threshold, min_alpha)
        if cmap == DIVERGING_ID:  # opaque by the distance from the middle level, both ways
            alpha = alpha[np.rint(np.abs(np.arange(256) - 127.5) * 2).clip(0, 255).astype(np.intp)]
        table[:, 3] = alpha
    else:
        table[:, :3] = bgr
    return table.view(np.int32).reshape(1, 256)


def colorize(
    density: np.ndarray,
    colormap: str | int = DEFAULT_COLORMAP,
    scale: str | Scale = "max",
    min_alpha: int = DEFAULT_MIN_ALPHA,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    top: float | None = None,
) -> np.ndarray:
    """Density -> RGBA uint8 (H, W, 4): transparent where there was no activity.

    One 0..255 level per pixel, then one int32 lookup that writes the four
    bytes of each pixel at once.
    """
    d = np.asarray(density)
    u8 = normalize_u8(d, scale, out=_levels(d.shape), top=top)
    packed = cv2.LUT(u8, _lut32(colormap_id(colormap), float(threshold), int(min_alpha), True), dst=fresh_array(u8.shape, np.int32))
    return packed.view(np.uint8).reshape(u8.shape + (4,))


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
    # bg * (1 - a) + heat * a per pixel in one cv2.blendLinear over uint8 images: two float32
    # weight planes, never the float32 copies of both images (~150 MB of temporaries at 1080p).
    a = np.multiply(rgba[..., 3], np.float32(min(max(alpha, 0.0), 1.0) / 255.0), dtype=np.float32)
    rest = np.subtract(np.float32(1.0), a)
    heat = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)
    return cv2.blendLinear(np.ascontiguousarray(bg), heat, rest, a)


def blend(frame_bgr: np.ndarray, heat_bgr: np.ndarray, alpha: float, out: np.ndarray | None = None) -> np.ndarray:
    """frame*(1-alpha) + heat*alpha in one cv2.addWeighted call (live, per frame)."""
    a = min(max(float(alpha), 0.0), 1.0)
    if out is not None:
        cv2.addWeighted(frame_bgr, 1.0 - a, heat_bgr, a, 0.0, dst=out)
        return out
    return cv2.addWeighted(frame_bgr, 1.0 - a, heat_bgr, a, 0.0)
