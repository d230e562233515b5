"""The 0-100 % colour bar beside a picture, with the absolute value of each tick and a title strip."""

from __future__ import annotations

import cv2
import numpy as np

from trackheat.render.colour import DEFAULT_COLORMAP, apply_colormap
from trackheat.render.scale import Scale, scale_value

_FONT = cv2.FONT_HERSHEY_SIMPLEX


MIN_BAR_SIZE = (64, 64)  # (w, h): below this the bar's text would be unreadable, so none is drawn


def fmt_amount(v: float) -> str:
    """A short number for a label (at most 5 characters): 0.42, 3.5, 87, 1.2k, 3.4M, 1e-05."""
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
    if a < 0.01:
        return f"{v:.0e}"
    return f"{v:.2g}"


def _text(img: np.ndarray, text: str, org: tuple[int, int], fs: float, color=(235, 235, 235), thick: int = 1) -> None:
    # Hershey fonts are ASCII only; keep labels ASCII. Drawn on the dark panel, so no shadow.
    text = text.encode("ascii", "replace").decode()
    cv2.putText(img, text, org, _FONT, fs, color, thick, cv2.LINE_AA)


def _geq(img: np.ndarray, x: int, y: int, size: int, thick: int, color=(235, 235, 235)) -> None:
    """A drawn "greater than or equal" sign (Hershey fonts have no such glyph), baseline at y."""
    s = max(size, 4)
    top, mid, bot = y - s, y - s // 2 - s // 6, y - s // 3
    cv2.line(img, (x, top), (x + s * 2 // 3, mid), color, thick, cv2.LINE_AA)
    cv2.line(img, (x + s * 2 // 3, mid), (x, bot), color, thick, cv2.LINE_AA)
    cv2.line(img, (x, y), (x + s * 2 // 3, y), color, thick, cv2.LINE_AA)


def colorbar_fits(width: int, height: int) -> bool:
    """Whether a picture is large enough for a readable bar and title (MIN_BAR_SIZE)."""
    return width >= MIN_BAR_SIZE[0] and height >= MIN_BAR_SIZE[1]


def draw_colorbar(
    image_bgr: np.ndarray,
    colormap: str | int = DEFAULT_COLORMAP,
    label: str = "",
    *,
    unit: str = "",
    top: float | None = None,
    scale: str | Scale = "max",
    title: str | None = None,
    background=(32, 32, 32),
    clipped: bool = False,
) -> np.ndarray:
    """A new BGR image: `image_bgr` with a title strip above and a colour bar at the right.

    The bar reads 0-100 % at five ticks; with `top` (the absolute value at
    100 %) and `unit`, each tick also shows its absolute amount under the
    scale in use (so a log bar says what 50 % really means). `clipped`: values
    above the top exist and are drawn at 100 % (a percentile scale): the bar
    gets a cap and the top amount a ">=" sign. Drawn outside the picture so it
    never hides a part of the screen; sized from the image height so it stays
    readable from 640x480 to 4K. The panel's width depends only on that size,
    never on the label or the numbers, so pictures of one canvas have one width.
    A picture smaller than MIN_BAR_SIZE is returned as it is (see colorbar_fits).
    """
    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    if not colorbar_fits(w, h):
        return img.copy()
    u = max(min(h, w * 9 // 16) / 720.0, 0.8)  # layout unit: 1.0 at 720p, never too small to read
    fs = 0.5 * u
    thick = max(1, int(round(u)))
    (_, th), _ = cv2.getTextSize("0 %", _FONT, fs, thick)
    with_amounts = top is not None and top > 0
    pct_w = cv2.getTextSize("100 %", _FONT, fs, thick)[0][0]
    amount_w = max(cv2.getTextSize(t, _FONT, fs, thick)[0][0] for t in ("0.088", "88.8k", "8e-05"))
    geq_w = th  # room for the drawn >= sign before the top amount
    gap = cv2.getTextSize("  ", _FONT, fs, thick)[0][0]
    text_w = pct_w + (gap + geq_w + amount_w if with_amounts else 0)
    bar_w = int(round(18 * u))
    pad = int(round(12 * u))
    panel_w = pad + bar_w + pad // 2 + text_w + pad
    label_lines = [s for s in (label, unit if unit and with_amounts else "") if s]
    cap_h = int(round(bar_w * 0.8)) if clipped else 0
    # A short picture (a few rows of a small canvas) still gets a whole bar with its labels
    # and five ticks apart: the panel, and so the output, is never shorter than that.
    ph = max(h, 2 * pad + (len(label_lines) + 1) * int(th * 1.8) + cap_h + 5 * int(th * 1.7) + th)
    # The title: on one line, or wrapped at its " | " parts on a narrow picture (shrunk only
    # when one part alone is too wide), rather than shrunk until it cannot be read.
    tfs = fs * 1.1
    avail = w + panel_w - 2 * pad
    title_lines: list[str] = []
    for part in (title.split(" | ") if title else []):
        joined = f"{title_lines[-1]} | {part}" if title_lines else part
        if title_lines and cv2.getTextSize(joined, _FONT, tfs, thick)[0][0] <= avail:
            title_lines[-1] = joined
        else:
            title_lines.append(part)
    if title_lines:
        widest = max(cv2.getTextSize(t, _FONT, tfs, thick)[0][0] for t in title_lines)
        if widest > avail:
            tfs *= avail / widest
    line_h = int(round(th * 1.9))
    title_h = int(round(th * 2.6)) + (len(title_lines) - 1) * line_h if title_lines else 0
    out = np.empty((ph + title_h, w + panel_w, 3), np.uint8)
    out[...] = background
    out[title_h:title_h + h, :w] = img
    for i, t in enumerate(title_lines):
        _text(out, t, (pad, int(round(th * 2.6 * 0.68)) + i * line_h), tfs, thick=thick)
    # The bar: 100 % at the top (below a cap when the scale clips).
    y0 = title_h + pad + (len(label_lines) + 1) * int(th * 1.8) + cap_h
    y1 = title_h + ph - pad - th
    if y1 - y0 < 20:
        y0, y1 = title_h + pad + cap_h, title_h + ph - pad
    n = max(y1 - y0, 2)
    ramp = np.linspace(1.0, 0.0, n, dtype=np.float32).reshape(-1, 1)
    colours = apply_colormap(np.repeat(ramp, bar_w, axis=1), colormap)
    x0 = w + pad
    out[y0:y0 + n, x0:x0 + bar_w] = colours
    cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + bar_w, y0 + n), (200, 200, 200), 1)
    if clipped:  # a triangle in the top colour: "and more" (matplotlib's extend="max")
        tip = np.array([[x0 - 1, y0 - 1], [x0 + bar_w, y0 - 1], [x0 + bar_w // 2, y0 - 1 - cap_h]], np.int32)
        top_colour = tuple(int(c) for c in colours[0, 0])
        cv2.fillConvexPoly(out, tip, top_colour, cv2.LINE_AA)
        cv2.polylines(out, [tip], True, (200, 200, 200), 1, cv2.LINE_AA)
    for i, t in enumerate(label_lines):
        lfs = fs
        lw = cv2.getTextSize(t, _FONT, lfs, thick)[0][0]
        if lw > panel_w - 2 * pad:
            lfs *= (panel_w - 2 * pad) / lw
        _text(out, t, (x0, title_h + pad + th + i * int(th * 1.8)), lfs, thick=thick)
    tx = x0 + bar_w + pad // 2
    ax = tx + pct_w + gap + geq_w  # the amounts' column
    for i in range(5):
        f = i / 4
        y = y0 + n - 1 - int(round(f * (n - 1)))
        cv2.line(out, (x0 + bar_w, y), (x0 + bar_w + pad // 3, y), (220, 220, 220), thick)
        ty = min(max(y + th // 2, y0 + th), y0 + n)
        pct = f"{int(f * 100)} %"
        _text(out, pct, (tx + pct_w - cv2.getTextSize(pct, _FONT, fs, thick)[0][0], ty), fs, thick=thick)
        if with_amounts:
            assert top is not None
            _text(out, fmt_amount(scale_value(f, top, scale)), (ax, ty), fs, thick=thick)
            if clipped and i == 4:
                _geq(out, ax - geq_w, ty, th, thick)
    return out


def rgb_of(colormap: str | int, fraction: float) -> tuple[int, int, int]:
    """The BGR colour a colormap gives a 0..1 value (for legends and tests)."""
    px = apply_colormap(np.array([[fraction]], np.float32), colormap)
    b, g, r = (int(c) for c in px[0, 0])
    return b, g, r
