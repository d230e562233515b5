"""The image outputs every command shares: heatmap.png, overlay.png, snapshots.

`write_images` turns a density grid into the transparent heatmap and the
overlay with its title and colour bar; export, gaze and the viewer all call
it, so every trackheat picture has the same colours, bar and title.
`compose_images` makes the same two pictures in memory (the viewer serves
them); `encode_png` is the one PNG encoding and `write_png` the one PNG
writer (live's snapshots too).
"""

from __future__ import annotations

import os

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from trackheat import defaults, render
from trackheat.canvas import Rect
from trackheat.errors import UserError

DEFAULT_ALPHA = defaults.ALPHA
NEUTRAL = (34, 32, 30)  # BGR: dark neutral monitor area
OFF_DESKTOP = (18, 17, 16)  # parts of the bounding box no monitor covers
OUTLINE = (110, 105, 100)


def encode_png(image: np.ndarray) -> bytes:
    """One image as PNG bytes: the one encoding of every trackheat PNG, in a file or served by the viewer."""
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise UserError(f"cannot encode a {image.shape} image as PNG")
    return buf.tobytes()


def private_file(path: str | Path):
    """A binary file opened for writing, mode 0600 whatever the umask or its old mode.

    Heatmaps can show the screen (screenshots as background) and where someone
    worked: like the store, they are readable by their owner only. O_NOFOLLOW: a
    symlink planted at the name is refused, never written through."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write one image (export's PNGs, live's snapshots) as `encode_png` makes it, 0600 (see private_file)."""
    path = Path(path)
    data = encode_png(image)
    with private_file(path) as f:
        f.write(data)
    return path


def write_images(
    density: np.ndarray,
    out_dir: str | Path,
    *,
    background_bgr: np.ndarray | None = None,
    colormap: str | int = render.DEFAULT_COLORMAP,
    scale: str = "max",
    alpha: float = DEFAULT_ALPHA,
    unit: str = "",
    title: str | None = None,
    label: str | None = None,
    unit_scale: float = 1.0,
    outlines: Sequence[Rect] = (),
    background_outlines: bool = True,
    density_path: str | Path | None = None,
    top: float | None = None,
    blob_px: float | None = None,
) -> tuple[Path, Path]:
    """Write OUT/heatmap.png (RGBA: transparent where nothing happened) and
    OUT/overlay.png (over the background, with title and colour bar): the
    two images of `compose_images`, which takes the same arguments.
    """
    heat, framed = compose_images(
        density, background_bgr=background_bgr, colormap=colormap, scale=scale, alpha=alpha, unit=unit, title=title,
        label=label, unit_scale=unit_scale, outlines=outlines, background_outlines=background_outlines, top=top, blob_px=blob_px,
    )
    return write_rendered(out_dir, heat, framed, np.asarray(density, np.float32), density_path)


def write_rendered(out_dir: str | Path, heatmap: np.ndarray, overlay: np.ndarray, grid: np.ndarray, density_path: str | Path | None = None) -> tuple[Path, Path]:
    """OUT_DIR/heatmap.png and overlay.png, and the density grid to `density_path` if given:
    the files of export, gaze and aggregate, written the one way."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # The two encodings at once: OpenCV's PNG encoder releases the GIL, so on two cores the
    # pair takes the time of the larger one (a third of a month's export was these two).
    import threading

    failed: list[BaseException] = []

    def heat_png() -> None:
        try:
            write_png(out / "heatmap.png", heatmap)
        except BaseException as e:  # re-raised below, in the caller's thread
            failed.append(e)

    t = threading.Thread(target=heat_png, name="heatmap.png")
    t.start()
    try:
        over = write_png(out / "overlay.png", overlay)
    finally:
        t.join()
    if failed:
        raise failed[0]
    heat = out / "heatmap.png"
    if density_path is not None:
        dp = Path(density_path)
        dp.parent.mkdir(parents=True, exist_ok=True)
        with private_file(dp) as f:  # to a file object, np.save adds no ".npy": the path given is the path written
            np.save(f, grid)
    return heat, over


def compose_images(
    density: np.ndarray,
    *,
    background_bgr: np.ndarray | None = None,
    colormap: str | int = render.DEFAULT_COLORMAP,
    scale: str = "max",
    alpha: float = DEFAULT_ALPHA,
    unit: str = "",
    title: str | None = None,
    label: str | None = None,
    unit_scale: float = 1.0,
    outlines: Sequence[Rect] = (),
    background_outlines: bool = True,
    top: float | None = None,
    blob_px: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The heatmap (BGRA: transparent where nothing happened) and the overlay
    (BGR: over the background, with title and colour bar), in memory.

    `background_bgr` of any size is scaled to the density's size; None gives a
    dark neutral canvas with `outlines` (monitor rectangles in grid pixels)
    drawn. With outlines, heat that blurs off every monitor (into the gaps of
    a multi-monitor desktop) is made transparent in the images; the saved
    density is left as computed.
    The colour bar reads 0-100 % and, at each tick, the absolute amount:
    density times `unit_scale` (export passes the factor that makes a lone
    point read 1, so the bar counts moves, clicks or seconds per blob: a lone
    point reads 1 at its centre, 140 is as much as 140 points stacked in one
    blob; `blob_px` (the blob's sigma in output pixels) is said on the bar).
    `top` fixes the density at 100 % (maps drawn apart then share one scale);
    None: the scale's own top (the maximum or the percentile); above it the
    bar is marked as clipped.
    A picture smaller than render.MIN_BAR_SIZE gets no bar and no title
    (render.colorbar_fits says which; the caller says so).
    """
    d = np.asarray(density, np.float32)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"density must be a non-empty 2-D grid, got shape {d.shape}")
    render.colormap_id(colormap)
    render.parse_scale(scale)
    if not 0.0 <= float(alpha) <= 1.0:
        raise UserError(f"expected a number from 0 to 1, got {alpha}", param="alpha")
    h, w = d.shape
    rgba = render.colorize(d, colormap, scale, top=top)
    if outlines:
        on_screen = np.zeros((h, w), np.uint8)
        for m in outlines:
            x0, y0 = max(int(round(m.left)), 0), max(int(round(m.top)), 0)
            on_screen[y0:max(int(round(m.top + m.height)), 0), x0:max(int(round(m.left + m.width)), 0)] = 1
        rgba[..., 3] *= on_screen
    heat = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    bg = neutral_background(w, h, outlines if background_outlines else ()) if background_bgr is None else background_bgr
    mixed = render.overlay(bg, rgba, alpha=alpha)
    top_raw = render.scale_top(d, scale) if top is None else float(top)
    clipped = float(d.max()) > top_raw * (1 + 1e-6)  # a percentile, or a shared `top` below this map's maximum
    per = "" if unit_scale == 1.0 else (f"per {fmt_px(blob_px)} px blob" if blob_px else "per blob")
    framed = render.draw_colorbar(mixed, colormap, label if label is not None else unit, unit=per, top=top_raw * float(unit_scale),
                                  scale=scale, title=title, clipped=clipped)
    return heat, framed


def fmt_px(v: float | None) -> str:
    """A blob size in pixels as titles, bars and messages all say it: 22, 8.5, 0.75."""
    if v is None:
        return "?"
    return f"{v:.0f}" if v >= 10 else f"{v:.2g}"


def neutral_background(width: int, height: int, outlines: Sequence[Rect] = ()) -> np.ndarray:
    """A dark neutral canvas; monitors (in grid pixels) drawn as lighter panels with outlines."""
    if not outlines:
        bg = np.empty((height, width, 3), np.uint8)
        bg[...] = NEUTRAL
        return bg
    bg = np.empty((height, width, 3), np.uint8)
    bg[...] = OFF_DESKTOP
    thick = max(1, int(round(min(width, height) / 540)))
    fs = max(0.35, min(width, height) / 1800)
    for i, m in enumerate(outlines, start=1):
        x0, y0 = int(round(m.left)), int(round(m.top))
        x1, y1 = int(round(m.left + m.width)) - 1, int(round(m.top + m.height)) - 1
        cv2.rectangle(bg, (x0, y0), (x1, y1), NEUTRAL, -1)
        cv2.rectangle(bg, (x0, y0), (x1, y1), OUTLINE, thick)
        if len(outlines) > 1:
            cv2.putText(bg, f"monitor {i}", (x0 + 8 * thick, y0 + int(28 * fs / 0.6)), cv2.FONT_HERSHEY_SIMPLEX, fs, OUTLINE, thick, cv2.LINE_AA)
    return bg
