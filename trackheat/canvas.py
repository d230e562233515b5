"""The surface positions live on: a virtual desktop of monitors, or an image.

A desktop's monitors may sit left of or above the primary one, so origins can
be negative; every consumer converts to array indices through `Canvas.origin`
instead of trusting (0, 0).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from trackheat.errors import UserError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Rect:
    """A monitor or any other axis-aligned box, in desktop pixels."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.width, self.height]


def union(rects: Iterable[Rect]) -> Rect:
    """The smallest rectangle holding every given one."""
    rects = list(rects)
    if not rects:
        raise ValueError("union of no rectangles")
    left = min(r.left for r in rects)
    top = min(r.top for r in rects)
    right = max(r.right for r in rects)
    bottom = max(r.bottom for r in rects)
    return Rect(left, top, right - left, bottom - top)


@dataclass(frozen=True)
class Canvas:
    """Where a session's coordinates are drawn.

    kind "desktop": `monitors` are the screens (mss order, primary first where
    known); kind "image": one rectangle at (0, 0), the reference image or the
    scene camera of an eye tracker.
    """

    monitors: tuple[Rect, ...]
    kind: str = "desktop"
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def image(cls, width: int, height: int, **extra) -> "Canvas":
        return cls((Rect(0, 0, int(width), int(height)),), kind="image", extra=dict(extra))

    @classmethod
    def desktop(cls, monitors: Sequence[Rect]) -> "Canvas":
        return cls(tuple(monitors), kind="desktop")

    @classmethod
    def covering(cls, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> "Canvas":
        """The smallest desktop holding every point (for logs that carry no layout)."""
        if len(xs) == 0:
            return cls((Rect(0, 0, 1, 1),), kind="desktop", extra={"inferred": True})
        left, top = math.floor(min(0, min(xs))), math.floor(min(0, min(ys)))
        right, bottom = math.floor(max(xs)) + 1, math.floor(max(ys)) + 1
        # "inferred": not a real monitor, only where the points fell (export merges these).
        return cls((Rect(left, top, right - left, bottom - top),), kind="desktop", extra={"inferred": True})

    @property
    def bounds(self) -> Rect:
        return union(self.monitors)

    @property
    def origin(self) -> tuple[int, int]:
        b = self.bounds
        return b.left, b.top

    @property
    def width(self) -> int:
        return self.bounds.width

    @property
    def height(self) -> int:
        return self.bounds.height

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "monitors": [m.as_list() for m in self.monitors], **({"extra": self.extra} if self.extra else {})})

    @classmethod
    def from_json(cls, text: str) -> "Canvas":
        d = json.loads(text)
        return cls(tuple(Rect(*m) for m in d["monitors"]), kind=d.get("kind", "desktop"), extra=d.get("extra", {}))


MAX_SIDE = 16384  # pixels: a larger side is a typo or a data error, not a screen or an image


def parse_size(text: str, *, aspect: tuple[int, int] | None = None, param: str = "size") -> tuple[int, int]:
    """(width, height) from "WIDTHxHEIGHT"; with `aspect` (w, h) also "W" or "Wx" alone,
    the height then keeping that aspect ratio. Each side 1..MAX_SIDE; UserError otherwise."""
    t = str(text).lower().strip()
    try:
        a, sep, b = t.partition("x")
        w = int(a)
        if b:
            h = int(b)
        elif aspect is not None:
            h = max(1, round(w * aspect[1] / aspect[0]))
        else:
            raise ValueError
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise ValueError
    except ValueError:
        alone = ", or a width alone" if aspect is not None else ""
        raise UserError(f"expected WIDTHxHEIGHT such as 1280x720{alone} (each side 1..{MAX_SIDE}); got {text!r}", param=param) from None
    return w, h
