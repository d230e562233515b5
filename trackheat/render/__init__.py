"""The one renderer: density -> 0..100 % levels -> colours -> images.

Export, gaze, the viewer, aggregation and live all draw through this
package ("aggregate, then shade", as datashader puts it), so a colormap, a
scale or a blend looks the same everywhere and is fixed in one place. It
works on numpy arrays with OpenCV and needs no display.

    scale.py     a density value -> a level (max, percentile, log, sqrt)
    colour.py    levels -> colormap colours, the transparent heatmap, blends
    colourbar.py the 0-100 % bar and title strip beside a picture
    shader.py    the live overlay's full-size pass (with _shade.c)
    motion.py    the live motion heat drawn over its frames

Conventions: arrays are indexed [y, x] (row = y, down; column = x, right);
colours are BGR like OpenCV, RGBA only for the transparent heatmap PNG.
The densities themselves are made in trackheat.accumulate.
"""

from __future__ import annotations

from trackheat.render.colour import (
    ALPHA_RAMP,
    COLORMAPS,
    DEFAULT_ALPHA,
    DEFAULT_COLORMAP,
    DEFAULT_MIN_ALPHA,
    DEFAULT_THRESHOLD,
    DIVERGING,
    alpha_lut,
    apply_colormap,
    blend,
    colorize,
    colormap_id,
    overlay,
)
from trackheat.render.colourbar import MIN_BAR_SIZE, colorbar_fits, draw_colorbar, fmt_amount, rgb_of
from trackheat.render.scale import (
    DEFAULT_SCALE,
    LOG_RANGE,
    Scale,
    as_scale,
    normalize,
    normalize_u8,
    parse_scale,
    scale_top,
    scale_value,
    to_u8,
)
from trackheat.render.shader import LevelShader

__all__ = [
    "ALPHA_RAMP", "COLORMAPS", "DEFAULT_ALPHA", "DEFAULT_COLORMAP", "DEFAULT_SCALE", "DEFAULT_MIN_ALPHA", "DEFAULT_THRESHOLD", "DIVERGING", "LOG_RANGE",
    "LevelShader", "MIN_BAR_SIZE", "Scale", "colorbar_fits", "alpha_lut", "apply_colormap", "as_scale", "blend", "colorize", "colormap_id",
    "draw_colorbar", "fmt_amount", "normalize", "normalize_u8", "overlay", "parse_scale", "rgb_of",
    "scale_top", "scale_value", "to_u8",
]
