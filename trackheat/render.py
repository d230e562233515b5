"""The one renderer: points -> density grid -> colours -> images.

Export, gaze and live all draw through this module ("aggregate, then shade",
as datashader puts it), so a colormap, a scale or a blend looks the same
everywhere and is fixed in one place. Everything works on numpy arrays and
OpenCV; nothing here needs a display.

Conventions: arrays are indexed [y, x] (row = y, down; column = x, right);
colours are BGR like OpenCV, RGBA only for the transparent heatmap PNG.
"""

from __future__ import annotations

import functools
import math
import threading
from concurrent.futures import ThreadPoolExecutor
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
DEFAULT_THRESHOLD = 0.02  # values at or under 2 % of the top are fully transparent
DEFAULT_MIN_ALPHA = 0  # alpha just above the threshold (0: no visible edge); rises to 255 over ALPHA_RAMP
ALPHA_RAMP = 0.3


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
    if density.ndim == 2 and density.dtype in (np.float32, np.float64, np.uint8, np.uint16, np.int32):
        top = float(cv2.minMaxLoc(density)[1])  # strided views too; ~2x np.max on a 4K view
    else:
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
def _new(shape: tuple[int, ...], dtype) -> np.ndarray:
    """A fresh array from numpy's allocator, for cv2 to write into (dst=).

    Left to itself, cv2 allocates a large output with plain malloc: at 4K a
    fresh 33 MB mmap per call, faulted in 4 KB pages (with the per-call point
    temporaries, 27 ms of system time per 4K density+colorize was measured,
    as much as the work). numpy asks the kernel for huge pages on large
    arrays (madvise), so the same memory faults in a few 2 MB pages.
    """
    return np.empty(shape, dtype)


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
        table[:, 3] = alpha_lut(threshold, min_alpha)
    else:
        table[:, :3] = bgr
    return table.view(np.int32).reshape(1, 256)


def colorize(
    density: np.ndarray,
    colormap: str | int = DEFAULT_COLORMAP,
    scale: str = "max",
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
    packed = cv2.LUT(u8, _lut32(colormap_id(colormap), float(threshold), int(min_alpha), True), dst=_new(u8.shape, np.int32))
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


# -- the live overlay ----------------------------------------------------------
try:  # the C inner loop; setup.py builds it where a compiler is at hand
    from trackheat import _shade
except ImportError:  # no compiler at install time: LevelShader uses OpenCV calls instead
    _shade = None

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_in_pool = threading.local()  # set on the pool's own thread, which must never wait on the pool
_BAND_MIN_ROWS = 64  # shorter frames are shaded in one go: a second thread costs more than it saves


def _pool() -> ThreadPoolExecutor:
    """One helper thread for every LevelShader: a frame is shaded as two bands of rows,
    one on the caller's thread and one here. The C loop and OpenCV release the GIL,
    so on a 2-core machine the two bands run side by side."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackheat-shade",
                                       initializer=setattr, initargs=(_in_pool, "worker", True))
        return _POOL


_TAP_ONE = 2048  # the C loop's tap weights are 11-bit, as OpenCV's resize (TAP_BITS in _shade.c)


def _taps(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, 3) int32: OpenCV INTER_LINEAR's two source samples per output pixel and the
    second one's weight in 1/2048 (pixel centres aligned, edges clamped as cv2.resize does)."""
    s = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(s), n_in - 1).astype(np.int32)
    i1 = np.minimum(i0 + 1, n_in - 1).astype(np.int32)
    wgt = np.where(i0 == n_in - 1, 0, np.rint((s - i0) * _TAP_ONE)).astype(np.int32)
    return np.ascontiguousarray(np.stack([i0, i1, wgt], axis=1))


@functools.lru_cache(maxsize=64)
def _shade_lut(cmap: int, frame_weight: int) -> np.ndarray:
    """(256, 4) uint16: each level's colour times (256 - frame_weight), the colour's share of
    the blend in 8.8 fixed point (exact integers, so alpha 1 gives the colormap itself)."""
    bgr = _colormap_table(cmap).astype(np.uint16)
    table = np.zeros((256, 4), np.uint16)
    table[:, :3] = bgr * np.uint16(256 - frame_weight)
    return table


class LevelShader:
    """The live overlay's full-size pass: heat levels scaled up to the frame, coloured, blended.

    out = frame*(1-alpha) + colormap(levels scaled up)*alpha, for a stream of
    frames of one size whose 0..255 heat levels come at one (usually smaller)
    size. The levels are scaled with OpenCV's bilinear geometry and then
    coloured, at every scale, so the overlay looks the same at 720p, 1080p and 4K.

    With the C loop (trackheat._shade) each row is scaled, looked up and
    blended in one sweep, in two bands of rows on two threads: at 1080p
    about 3x faster than the same pass as OpenCV calls (bench/live.py has
    the figures). Without it (no compiler at install time) the same picture
    comes from cv2.resize, the colour lookup and addWeighted. The two differ only in rounding: at
    factors 1, 2 and 4 the C loop's levels are the exact bilinear value
    correctly rounded, at other sizes within 0.75 of it (11-bit weights);
    cv2.resize truncates in its own fixed-point steps. So the levels differ
    by at most one, which a colormap may turn into a few units of colour,
    and alpha is applied in steps of 1/256. Alpha 0 gives the frame and
    alpha 1 the colormap exactly on both.

    One instance serves one stream (its buffers are reused): not for two threads at once.
    """

    def __init__(self, frame_size: tuple[int, int], levels_size: tuple[int, int], *, native: bool | None = None) -> None:
        w, h = (int(v) for v in frame_size)
        pw, ph = (int(v) for v in levels_size)
        if min(w, h, pw, ph) <= 0:
            raise ValueError(f"LevelShader: sizes must be positive, got frame {w}x{h}, levels {pw}x{ph}")
        self.size = (w, h)
        self.levels_size = (pw, ph)
        self.native = _shade is not None and native is not False
        if native and _shade is None:
            raise RuntimeError("the native shader (trackheat._shade) was not built")
        if self.native:
            self._xtab = _taps(w, pw)
            self._ytab = _taps(h, ph)
        else:
            self._scaled = None if (pw, ph) == (w, h) else np.empty((h, w), np.uint8)
            self._colour = np.empty((h, w, 3), np.uint8)

    def shade(self, frame: np.ndarray, levels: np.ndarray, out: np.ndarray, colormap: str | int, alpha: float) -> np.ndarray:
        """Write the overlay of `frame` (BGR uint8) and `levels` (uint8) into `out`; returns `out`."""
        w, h = self.size
        pw, ph = self.levels_size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"LevelShader: expected a {w}x{h} BGR uint8 frame, got {frame.dtype} {frame.shape}")
        if levels.shape != (ph, pw) or levels.dtype != np.uint8:
            raise ValueError(f"LevelShader: expected {pw}x{ph} uint8 levels, got {levels.dtype} {levels.shape}")
        if out.shape != (h, w, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError("LevelShader: out must be a C-contiguous BGR uint8 array of the frame's size")
        a = float(alpha)
        if not math.isfinite(a):
            raise ValueError(f"LevelShader: alpha must be a number in 0..1, got {alpha!r}")
        a = min(max(a, 0.0), 1.0)
        if self.native:
            wf = int(round((1.0 - a) * 256))
            args = (np.ascontiguousarray(frame), np.ascontiguousarray(levels), _shade_lut(colormap_id(colormap), wf), wf, out,
                    self._xtab, self._ytab, w, h, pw, ph)
            self._in_bands(lambda r0, r1: _shade.shade(*args, r0, r1), h)
            return out
        lv = levels if self._scaled is None else cv2.resize(levels, (w, h), dst=self._scaled, interpolation=cv2.INTER_LINEAR)
        colour = apply_colormap(lv, colormap, out=self._colour)
        self._in_bands(lambda r0, r1: blend(frame[r0:r1], colour[r0:r1], a, out=out[r0:r1]), h)  # addWeighted: one core
        return out

    @staticmethod
    def _in_bands(run, h: int) -> None:
        if h < _BAND_MIN_ROWS or getattr(_in_pool, "worker", False):
            run(0, h)  # (on the pool's thread a second band would wait behind itself forever)
            return
        top = _pool().submit(run, 0, h // 2)
        try:
            run(h // 2, h)
        finally:
            top.result()  # never return (or raise) while the other band still writes


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
    # Hershey fonts are ASCII only; keep labels ASCII. Drawn on the dark panel, so no shadow.
    text = text.encode("ascii", "replace").decode()
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
    u = max(min(h, w * 9 // 16) / 720.0, 0.8)  # layout unit: 1.0 at 720p, never too small to read
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
    # A very short picture (a few rows of a tiny canvas) still gets a whole bar:
    # the panel, and so the output, is never shorter than the bar needs.
    ph = max(h, 2 * pad + 2 * th + 24)
    out = np.empty((ph + title_h, w + panel_w, 3), np.uint8)
    out[...] = background
    out[title_h:title_h + h, :w] = img
    if title:
        tfs = fs * 1.1
        tw = cv2.getTextSize(title, _FONT, tfs, thick)[0][0]
        if tw > out.shape[1] - 2 * pad:  # shrink a long title to fit rather than cut it
            tfs *= (out.shape[1] - 2 * pad) / tw
        _text(out, title, (pad, int(round(title_h * 0.68))), tfs, thick=thick)
    # The bar: 100 % at the top.
    y0 = title_h + pad + (len(label_lines) + 1) * int(th * 1.8)
    y1 = title_h + ph - pad - th
    if y1 - y0 < 20:
        y0, y1 = title_h + pad, title_h + ph - pad
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
    "apply_colormap", "alpha_lut", "colorize", "overlay", "blend", "draw_colorbar", "fmt_amount", "rgb_of",
]


# -- density -----------------------------------------------------------------
# A point becomes a Gaussian of unit mass truncated at 3 sigma (the
# pose-estimation patch). The truncation radius is a continuous 3 sigma: the
# edge taps are weighted by how much of their pixel lies inside it, so the
# kernel is the same shape at any resolution and the reduced-resolution path
# can reproduce its edge (its 1.1 %-of-peak step) to within ~0.5 % of a lone
# blob's peak. The 2-D kernel is the outer product, normalized to sum 1, so an
# interior blob sums to its weight. (A tapered kernel, lowered by its value at
# 3 sigma, was tried: 1.7 % off scipy's gaussian_filter at 10k points.)
TRUNCATE = 3.0  # sigmas
REDUCE_MIN_SIGMA = 7.0  # blur at 1/f resolution only while sigma/f >= this (measured: <= 0.7 % of a lone blob's peak)
_STAMP_COST_CALL = 10000.0  # ns per stamped point (Python loop, slicing), measured on the 2-core box
_STAMP_COST_PX = 1.5  # ns per patch pixel added
_HIST_COST = 12.0  # ns per point for the full-resolution bincount
_SPLIT_COST = 15.0  # ns per point for the reduced path's lookups and four small bincounts
_GRID_COST = 3.0  # ns per full-resolution pixel: allocation, conversion
_UPSIZE_COST = 1.5  # ns per full-resolution pixel for the linear upsize
_TAP_COST = 0.25  # ns per grid pixel per kernel tap (sepFilter2D, float32)


def kernel_radius(sigma: float, reach: float | None = None) -> int:
    """Half-width in whole pixels of the kernel truncated at `reach` (default 3 sigma)."""
    reach = TRUNCATE * float(sigma) if reach is None else float(reach)
    return max(1, int(math.ceil(reach + 0.5)) - 1)


def gaussian_kernel_1d(sigma: float, reach: float | None = None) -> np.ndarray:
    """The normalized 1-D kernel (float64, length 2r+1), cut at `reach` px (default 3 sigma)."""
    sigma = max(float(sigma), 1e-3)
    reach = TRUNCATE * sigma if reach is None else float(reach)
    r = kernel_radius(sigma, reach)
    x = np.arange(-r, r + 1, dtype=np.float64)
    inside = np.clip(reach - np.abs(x) + 0.5, 0.0, 1.0)  # share of each pixel within the reach
    k = np.exp(-0.5 * (x / sigma) ** 2) * inside
    return k / k.sum()


def gaussian_patch(sigma: float, *, peak: float | None = None) -> np.ndarray:
    """The (2r+1)^2 float32 patch: unit mass, or peaking at `peak` when given."""
    k = gaussian_kernel_1d(sigma)
    p = np.outer(k, k)
    if peak is not None:
        p *= peak / p.max()
    return p.astype(np.float32)


def _pixels(xs, ys, weights, width: int, height: int, origin: tuple[float, float]):
    """Integer array indices of the points inside the canvas, and their weights (float64)."""
    x = np.asarray(xs)
    y = np.asarray(ys)
    if x.shape != y.shape:
        raise ValueError(f"xs and ys differ in length ({x.size} vs {y.size})")
    x = x.ravel()
    y = y.ravel()
    ox, oy = origin
    if np.issubdtype(x.dtype, np.integer) and float(ox).is_integer():
        ix = x.astype(np.int64, copy=False)
        if ox:
            ix = ix - int(ox)
    else:
        with np.errstate(invalid="ignore"):  # NaN becomes a huge negative index, dropped below
            ix = np.floor(x.astype(np.float64) - ox + 0.5).astype(np.int64)
    if np.issubdtype(y.dtype, np.integer) and float(oy).is_integer():
        iy = y.astype(np.int64, copy=False)
        if oy:
            iy = iy - int(oy)
    else:
        with np.errstate(invalid="ignore"):
            iy = np.floor(y.astype(np.float64) - oy + 0.5).astype(np.int64)
    w = None if weights is None else np.asarray(weights, np.float64).ravel()
    if w is not None and w.shape != ix.shape:
        raise ValueError(f"weights has {w.size} entries for {ix.size} points")
    # Unsigned views make negatives huge: one max per axis says whether all are inside
    # (the usual case), without a 1M-element mask; else one comparison per axis.
    if len(ix) and (int(ix.view(np.uint64).max()) >= width or int(iy.view(np.uint64).max()) >= height):
        inside = np.less(ix.view(np.uint64), width)
        inside &= np.less(iy.view(np.uint64), height)
        ix, iy = ix[inside], iy[inside]
        if w is not None:
            w = w[inside]
    return ix, iy, w


def _stamp(grid: np.ndarray, ix: np.ndarray, iy: np.ndarray, w: np.ndarray | None, patch: np.ndarray) -> None:
    """Add `patch` (centred) times each weight at each pixel, cut at the grid's edges."""
    h, wd = grid.shape
    r = patch.shape[0] // 2
    for i in range(len(ix)):
        x, y = int(ix[i]), int(iy[i])
        x0, x1 = max(x - r, 0), min(x + r + 1, wd)
        y0, y1 = max(y - r, 0), min(y + r + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        p = patch[y0 - y + r:y1 - y + r, x0 - x + r:x1 - x + r]
        if w is None:
            grid[y0:y1, x0:x1] += p
        else:
            grid[y0:y1, x0:x1] += p * np.float32(w[i])


def _histogram(ix, iy, w, width: int, height: int) -> np.ndarray:
    flat = np.bincount(iy * width + ix, weights=w, minlength=width * height)
    return flat.astype(np.float32).reshape(height, width)


def _blur(grid: np.ndarray, sigma: float, reach: float | None = None) -> np.ndarray:
    """Separable truncated Gaussian with zero outside the grid (mass leaves at the edges, as stamping does)."""
    k = gaussian_kernel_1d(sigma, reach).astype(np.float32)
    return cv2.sepFilter2D(grid, cv2.CV_32F, k, k, borderType=cv2.BORDER_CONSTANT)


def reduction_factor(sigma: float) -> int:
    """How far the blur may shrink the grid: sigma stays >= REDUCE_MIN_SIGMA coarse pixels."""
    return max(1, int(sigma // REDUCE_MIN_SIGMA))


UPSIZE = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
_UPSIZE_REACH = {"linear": 1, "cubic": 2, "lanczos": 4}  # coarse pixels the interpolation reads beyond a point
# Variance (coarse px^2 per axis, averaged over sub-pixel positions) that the bilinear
# split adds, plus what the interpolation adds; taken off the coarse blur so the
# result keeps the requested sigma. Lanczos and cubic add about none (cubic sharpens).
_ADDED_VARIANCE = {"linear": 1 / 6 + 1 / 6, "cubic": 0.0, "lanczos": 1 / 6}


_EXACT = float(2 ** 52)  # packed sums stay below this: exact, and floor(a / b) exact too
_BLOCK = 1 << 15  # points per block of the index arithmetic (256 KB per float64 temporary)
_SCRATCH_MAX = 1 << 21  # keep per-thread point buffers for up to this many points (32 MB)
_local = threading.local()


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-thread int64 and float64 buffers of n points, reused between calls.

    Fresh 8 MB arrays per call cost page faults (system time) comparable to the
    arithmetic itself on this machine; the bincounts only read them.
    """
    bufs = getattr(_local, "bufs", None)
    if bufs is None or len(bufs[0]) < n:
        bufs = (np.empty(n, np.int64), np.empty(n, np.float64))
        if n <= _SCRATCH_MAX:
            _local.bufs = bufs
    return bufs[0][:n], bufs[1][:n]


def _split_table(size: int, f: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per full-resolution coordinate: its lower coarse neighbour, and the upper one's share in 1/(2f).

    Full-res pixel centre p sits at coarse coordinate (p + 0.5)/f - 0.5 (cv2.resize's
    mapping), shifted by the margin m: (2p + 1 - f + 2fm) / 2f, so the share is an
    exact integer count of 1/(2f). Looked up per point instead of computed: one
    gather from a small table beats four float passes over a million points.
    """
    num = 2 * np.arange(size, dtype=np.int64) + 1 - f + 2 * f * m
    return num // (2 * f), num % (2 * f)


_DIGIT = float(2 ** 13)  # base of the one-pass packing: four digits stay below 2^52


def _one_pass_limit(q: float) -> int:
    """G: the most points a bin may hold for the one-pass digits (67 for f = 6)."""
    return int((_DIGIT - 1) // ((q - 1) ** 2))


def _one_pass_likely(npt: int, n: int, q: float) -> bool:
    """Whether even uniformly spread points would fit: else do not try."""
    lam = npt / n
    return _one_pass_limit(q) >= lam + 6.0 * math.sqrt(lam) + 8.0


def _one_pass_tables(ax_of, ay_of) -> tuple[np.ndarray, np.ndarray]:
    """Per column B*ax + 1 and per row 1 + B^2*ay: a point's weight is their product."""
    return _DIGIT * ax_of.astype(np.float64) + 1.0, 1.0 + (_DIGIT * _DIGIT) * ay_of.astype(np.float64)


def _one_pass_sums(key, wt, ix, iy, ax_of, ay_of, q: float, n: int, weighed: bool = False):
    """(count, sum tx, sum ty, sum tx*ty) per coarse bin (shares scaled as the caller's) in ONE
    bincount, or None when a bin may hold too many points for that.

    Each point weighs (B*ax + 1) * (1 + B^2*ay) = 1 + B*ax + B^2*ay + B^3*ax*ay
    (B = 2^13, ax and ay the whole-number shares), so a bin's sum holds the four
    sums as base-B digits, exactly, while every bin has at most G points. The
    decoded counts prove it: they must sum to the number of points (no carry
    out of the lowest digit) and none may exceed G; a too-crowded bin (a
    resting cursor) falls back to the caller's two-bincount path.
    """
    npt = len(key)
    g = _one_pass_limit(q)
    if not _one_pass_likely(npt, n, q):
        return None
    if not weighed:  # (the caller may have filled wt already, in its pass over the points)
        xt, yt = _one_pass_tables(ax_of, ay_of)
        for s in range(0, npt, _BLOCK):
            e = min(s + _BLOCK, npt)
            ws = wt[s:e]
            np.take(xt, ix[s:e], mode="clip", out=ws)
            ws *= np.take(yt, iy[s:e], mode="clip")
    p = np.bincount(key, weights=wt, minlength=n)
    if not float(p.max()) < _EXACT:  # partial sums of whole numbers below 2^52 were all exact
        return None
    # Powers of two: the scaled products and floors are exact.
    # In place, one temporary (each fresh 2 MB array costs page faults; np.fmod
    # would be exact too, but it is a libm call per element: 15 ms here).
    b1, b2, b3 = _DIGIT, _DIGIT ** 2, _DIGIT ** 3
    sxy = np.multiply(p, 1.0 / b3)
    np.floor(sxy, out=sxy)
    t = np.multiply(sxy, b3)
    p -= t
    sy = np.multiply(p, 1.0 / b2)
    np.floor(sy, out=sy)
    p -= np.multiply(sy, b2, out=t)
    sx = np.multiply(p, 1.0 / b1)
    np.floor(sx, out=sx)
    p -= np.multiply(sx, b1, out=t)
    total = p  # what is left below the first digit: the count
    if float(total.max()) > g or float(total.sum()) != npt:
        return None
    sx *= 1.0 / q
    sy *= 1.0 / q
    sxy *= 1.0 / (q * q)
    return total, sx, sy, sxy


def _reduced(ix, iy, w, width: int, height: int, sigma: float, f: int, upsize: str = "linear") -> np.ndarray:
    """Blur at 1/f resolution and resize up, with exact centres of mass.

    Each point is split bilinearly over the four nearest coarse pixel centres,
    which keeps its centre of mass exactly (a plain 1/f histogram moves it by
    up to f/2 pixels: several % of a blob's peak). The four shares come from
    the count and the sums of tx, ty and tx*ty per key (the lower-left cell):
    for unweighted points one bincount carrying all four as exact base-2^13
    digits (_one_pass_sums), else two (count, then three packed) or four; the
    coarse target is small enough to stay in cache.
    The coarse grid has a margin so the interpolation sees the blobs' tails
    beyond the canvas edges.
    """
    interp = UPSIZE[upsize]
    m = _UPSIZE_REACH[upsize] + 1
    wl = -(-width // f) + 2 * m
    hl = -(-height // f) + 2 * m
    x0_of, ax_of = _split_table(width, f, m)
    y0_of, ay_of = _split_table(height, f, m)
    n = hl * wl
    q = 2.0 * f  # shares are integers a/q
    npt = len(ix)
    key, wt = _scratch(npt)
    ky = y0_of * wl
    # In blocks that stay in cache: a take, an add or a multiply over 1M float64
    # costs about twice as much once its operands come from memory.
    # mode="clip" skips the bounds check: _pixels already kept only points inside.
    one = w is None and _one_pass_likely(npt, n, q)
    if one:
        xt, yt = _one_pass_tables(ax_of, ay_of)
    for s in range(0, npt, _BLOCK):
        e = min(s + _BLOCK, npt)
        xb, yb = ix[s:e], iy[s:e]
        np.take(ky, yb, mode="clip", out=key[s:e])
        key[s:e] += np.take(x0_of, xb, mode="clip")
        if one:  # the one-pass weights in the same pass: each block of points is read once
            ws = wt[s:e]
            np.take(xt, xb, mode="clip", out=ws)
            ws *= np.take(yt, yb, mode="clip")
    sums = _one_pass_sums(key, wt, ix, iy, ax_of, ay_of, q, n, weighed=True) if one else None
    if sums is not None:
        total, sx, sy, sxy = sums
    else:
        total = np.bincount(key, weights=w, minlength=n).astype(np.float64, copy=False)
        cmax = float(total.max()) if w is None else math.inf
        bx = (q - 1) * cmax + 1  # above any bin's sum of x (or y) shares
        if bx * bx * ((q - 1) ** 2 * cmax + 1) < _EXACT:
            # Unweighted and no bin too crowded: the sums of the x, y and x*y shares
            # (whole numbers) travel exactly in ONE float64 bincount, as the digits
            # sx + bx*sy + bx^2*sxy: 2 bincounts over the points, not 4. The weight
            # ax + bx*ay + bx^2*ax*ay = ax*(1 + bx^2*ay) + bx*ay comes from per-row tables.
            axf = ax_of.astype(np.float64)
            u_of = 1.0 + (bx * bx) * ay_of
            v_of = bx * ay_of.astype(np.float64)
            for s in range(0, npt, _BLOCK):
                e = min(s + _BLOCK, npt)
                ws = wt[s:e]
                np.take(axf, ix[s:e], mode="clip", out=ws)
                ws *= np.take(u_of, iy[s:e], mode="clip")
                ws += np.take(v_of, iy[s:e], mode="clip")
            packed = np.bincount(key, weights=wt, minlength=n)
            # True division (not a reciprocal multiply) keeps floor() exact below 2^52.
            # In place: every fresh 2 MB temporary here costs page faults.
            sxy = np.divide(packed, bx * bx)
            np.floor(sxy, out=sxy)
            sy = np.multiply(sxy, bx * bx)
            packed -= sy
            np.divide(packed, bx, out=sy)
            np.floor(sy, out=sy)
            sx = packed
            tmp = np.multiply(sy, bx)
            sx -= tmp
            sx *= 1.0 / q
            sy *= 1.0 / q
            sxy *= 1.0 / (q * q)
        else:
            ax = np.take(ax_of.astype(np.float64), ix, mode="clip")
            ay = np.take(ay_of.astype(np.float64), iy, mode="clip")
            axy = ax * ay
            if w is not None:
                ax *= w
                ay *= w
                axy *= w
            sx = np.bincount(key, weights=ax, minlength=n) * (1.0 / q)
            sy = np.bincount(key, weights=ay, minlength=n) * (1.0 / q)
            sxy = np.bincount(key, weights=axy, minlength=n) * (1.0 / (q * q))
    # (1-tx)(1-ty) = 1 - tx - ty + tx*ty; the margin (>= 2) keeps +1 and +wl inside the grid.
    coarse = total  # fresh from bincount: ours to change
    coarse -= sx
    coarse -= sy
    coarse += sxy
    coarse[1:] += sx[:-1]
    coarse[1:] -= sxy[:-1]
    coarse[wl:] += sy[:-wl]
    coarse[wl:] -= sxy[:-wl]
    coarse[wl + 1:] += sxy[:-wl - 1]
    coarse = coarse.astype(np.float32).reshape(hl, wl)
    coarse *= np.float32(1.0 / (f * f))  # a coarse pixel spreads its mass over f*f full pixels
    sl = math.sqrt(max((sigma / f) ** 2 - _ADDED_VARIANCE[upsize], 0.25))
    blurred = _blur(coarse, sl, TRUNCATE * sigma / f)  # cut where the full-resolution kernel is
    k = m - 1  # the interpolation needs only `reach` coarse pixels of margin: resize no more
    part = blurred[k:hl - k, k:wl - k]
    up = cv2.resize(part, (part.shape[1] * f, part.shape[0] * f), dst=_new((part.shape[0] * f, part.shape[1] * f), np.float32), interpolation=interp)
    return up[f:f + height, f:f + width]


def choose_method(n: int, width: int, height: int, sigma: float) -> str:
    """'stamp', 'blur' or 'reduced': the cheapest by a cost model measured on the 2-core box."""
    r = kernel_radius(sigma)
    stamp = n * (_STAMP_COST_CALL + (2 * r + 1) ** 2 * _STAMP_COST_PX)
    px = width * height
    blur = n * _HIST_COST + px * (_GRID_COST + 2 * (2 * r + 1) * _TAP_COST)
    f = reduction_factor(sigma)
    best, cost = ("stamp", stamp) if stamp <= blur else ("blur", blur)
    if f > 1:
        rl = kernel_radius(sigma / f)
        reduced = n * _SPLIT_COST + px * _UPSIZE_COST + px / (f * f) * 2 * (2 * rl + 1) * _TAP_COST
        if reduced < cost:
            best = "reduced"
    return best


def density(
    xs,
    ys,
    weights=None,
    *,
    width: int,
    height: int,
    sigma: float,
    origin: tuple[float, float] = (0, 0),
    method: str = "auto",
    upsize: str = "linear",
) -> np.ndarray:
    """The sum of Gaussians (sigma px, unit mass times weight) centred on the points: float32 (height, width).

    x grows right, y down; a point (x, y) lands on array element [y - oy, x - ox]
    (rounded to the nearest pixel); points outside the canvas are ignored. The
    three methods give the same grid within 1 % of the peak; `auto` picks the
    cheapest: stamping a patch per point when there are few points, a
    histogram and a separable blur, or that blur at a reduced resolution and
    a Lanczos upsize when sigma is large.
    """
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"canvas must be at least 1x1, got {width}x{height}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    ix, iy, w = _pixels(xs, ys, weights, width, height, origin)
    if method == "auto":
        method = choose_method(len(ix), width, height, sigma)
    if len(ix) == 0:
        return np.zeros((height, width), np.float32)
    if method == "stamp":
        grid = np.zeros((height, width), np.float32)
        _stamp(grid, ix, iy, w, gaussian_patch(sigma))
        return grid
    if method == "blur":
        return _blur(_histogram(ix, iy, w, width, height), sigma)
    if method == "reduced":
        f = reduction_factor(sigma)
        if f < 2:
            return _blur(_histogram(ix, iy, w, width, height), sigma)
        return _reduced(ix, iy, w, width, height, sigma, f, upsize)
    raise ValueError(f"unknown density method {method!r} (auto, stamp, blur, reduced)")


def default_sigma(width: int, height: int, percent: float = 1.0) -> float:
    """About 1 % of the canvas diagonal: a blob a little wider than a button on any screen size."""
    return max(1.0, math.hypot(width, height) * percent / 100.0)


def bin_shape(width: int, height: int, bins: int) -> tuple[int, int]:
    """(x bins, y bins) of `binned_density`: the canvas's aspect ratio, the wider side `bins`."""
    if width >= height:
        return int(bins), max(1, int(round(bins * height / width)))
    return max(1, int(round(bins * width / height))), int(bins)


def binned_density(
    xs,
    ys,
    weights=None,
    *,
    width: int,
    height: int,
    bins: int = 300,
    sigma: float = 3.0,
    origin: tuple[float, float] = (0, 0),
) -> np.ndarray:
    """Pupil Cloud's heatmap: a 2-D histogram with the canvas's aspect ratio (the wider
    side `bins` bins), a Gaussian blur of `sigma` bins, resized to (width, height)
    with Lanczos. Scaled by the bin area so it is a density per pixel, comparable
    with `density` (only its shape matters once normalized).
    """
    width, height = int(width), int(height)
    bx, by = bin_shape(width, height, bins)
    x = np.asarray(xs, np.float64).ravel() - origin[0]
    y = np.asarray(ys, np.float64).ravel() - origin[1]
    w = None if weights is None else np.asarray(weights, np.float64).ravel()
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height) & np.isfinite(x) & np.isfinite(y)
    x, y = x[inside], y[inside]
    if w is not None:
        w = w[inside]
    qx = np.minimum((x * (bx / width)).astype(np.int64), bx - 1)
    qy = np.minimum((y * (by / height)).astype(np.int64), by - 1)
    hist = np.bincount(qy * bx + qx, weights=w, minlength=bx * by).astype(np.float32).reshape(by, bx)
    if sigma > 0:
        hist = cv2.GaussianBlur(hist, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma), borderType=cv2.BORDER_REFLECT)
    hist *= np.float32(bx * by / (width * height))
    out = cv2.resize(hist, (width, height), interpolation=cv2.INTER_LANCZOS4)
    np.maximum(out, 0.0, out=out)  # Lanczos rings slightly below zero next to sharp peaks
    return out


def keypoint_heatmaps(keypoints, *, width: int, height: int, sigma: float, peak: float = 1.0) -> np.ndarray:
    """One float32 channel per keypoint, its Gaussian peaking at `peak` (pose-estimation targets).

    keypoints: (K, 2) x, y or (K, 3) with a visibility/confidence column (<= 0:
    empty channel); NaN coordinates give an empty channel, and keypoints near or
    beyond the edges give truncated or empty channels, from the same stamping
    code as `density`.
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.size == 0:
        kp = kp.reshape(0, 2)
    if kp.ndim != 2 or kp.shape[1] not in (2, 3):
        raise ValueError(f"keypoints must be (K, 2) or (K, 3), got shape {kp.shape}")
    out = np.zeros((len(kp), int(height), int(width)), np.float32)
    patch = gaussian_patch(sigma, peak=peak)
    r = patch.shape[0] // 2
    for k, row in enumerate(kp):
        x, y = row[0], row[1]
        if not (np.isfinite(x) and np.isfinite(y)) or (len(row) > 2 and not row[2] > 0):
            continue
        ix, iy = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
        if ix < -r or iy < -r or ix > width + r or iy > height + r:
            continue
        _stamp(out[k], np.array([ix]), np.array([iy]), None, patch)
    return out
