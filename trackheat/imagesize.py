"""An image's size from its header, before anything decodes it.

A 1.7 MB PNG can declare 30000x20000 pixels; decoding it (and the float
layers drawn over it) took the machine's 24 GB and the OOM killer came
(issue 11). Every image trackheat reads from a user (a `reference`, a
`background`) is measured here first and refused past MAX_PIXELS. The
common formats are parsed by hand (a few struct reads); for others OpenCV's
own limit applies (it reads the header too).
"""

from __future__ import annotations

import struct
from pathlib import Path

from trackheat.errors import BadInput

MAX_PIXELS = 100_000_000  # 100 MP: 10000x10000; a 8K frame is 33 MP
MAX_HEADER_SCAN = 1 << 20  # bytes of JPEG markers walked to find the frame header


def _jpeg(f, path: Path) -> tuple[int, int] | None:
    f.seek(2)
    scanned = 0
    while scanned < MAX_HEADER_SCAN:
        b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        seg = f.read(2)
        if len(seg) < 2:
            return None
        (length,) = struct.unpack(">H", seg)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            sof = f.read(5)
            if len(sof) < 5:
                return None
            h, w = struct.unpack(">HH", sof[1:5])
            return w, h
        if length < 2:
            return None
        f.seek(length - 2, 1)
        scanned += length
    return None


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, GIF, BMP or WebP header; None for other formats.

    BadInput when the file is one of these but its header is cut short."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(32)
            if head.startswith(b"\x89PNG\r\n\x1a\n"):
                if len(head) < 24 or head[12:16] != b"IHDR":
                    raise BadInput(p, "a PNG whose header is cut short or damaged")
                return struct.unpack(">II", head[16:24])
            if head.startswith(b"\xff\xd8"):
                size = _jpeg(f, p)
                if size is None:
                    raise BadInput(p, "a JPEG without a readable frame header (cut short or damaged)")
                return size
            if head[:6] in (b"GIF87a", b"GIF89a"):
                if len(head) < 10:
                    raise BadInput(p, "a GIF whose header is cut short")
                return struct.unpack("<HH", head[6:10])
            if head.startswith(b"BM"):
                if len(head) < 26:
                    raise BadInput(p, "a BMP whose header is cut short")
                w, h = struct.unpack("<ii", head[18:26])
                return abs(w), abs(h)
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                chunk = head[12:16]
                if chunk == b"VP8X" and len(head) >= 30:
                    w = int.from_bytes(head[24:27], "little") + 1
                    h = int.from_bytes(head[27:30], "little") + 1
                    return w, h
                if chunk == b"VP8 ":
                    rest = head + f.read(16)
                    if len(rest) >= 30:
                        w, h = struct.unpack("<HH", rest[26:30])
                        return w & 0x3FFF, h & 0x3FFF
                if chunk == b"VP8L" and len(head) >= 25:
                    bits = int.from_bytes(head[21:25], "little")
                    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
                raise BadInput(p, "a WebP whose header is cut short or damaged")
    except OSError as e:
        raise BadInput(p, f"cannot read: {e.strerror or e}") from None
    return None


def check_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int] | None:
    """Refuse an image whose header declares more than `max_pixels` (before decoding it)."""
    size = image_size(path)
    if size is not None:
        w, h = size
        if w <= 0 or h <= 0:
            raise BadInput(path, f"an image of {w}x{h} pixels")
        if w * h > max_pixels:
            raise BadInput(path, f"an image of {w}x{h} pixels ({w * h / 1e6:.0f} MP) is over the limit of "
                                 f"{max_pixels / 1e6:.0f} MP; scale it down first")
    return size
