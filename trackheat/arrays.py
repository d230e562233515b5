"""Array allocation shared by the stages that hand large buffers to OpenCV."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


def fresh_array(shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.ndarray:
    """A fresh array from numpy's allocator, for cv2 to write into (dst=).

    Left to itself, cv2 allocates a large output with plain malloc: at 4K a
    fresh 33 MB mmap per call, faulted in 4 KB pages (with the per-call point
    temporaries, 27 ms of system time per 4K density+colorize was measured,
    as much as the work). numpy asks the kernel for huge pages on large
    arrays (madvise), so the same memory faults in a few 2 MB pages.
    """
    return np.empty(shape, dtype)


def aligned_array(shape: tuple[int, ...], dtype: npt.DTypeLike, align: int = 64) -> np.ndarray:
    """A fresh C-contiguous array whose data starts on an `align`-byte boundary (a cache line).

    numpy's large arrays start 16 bytes into malloc's block, so every 64-byte
    vector store of a row would straddle two cache lines, and streaming
    (non-temporal) stores, which skip reading a line before writing it, need
    whole aligned lines. A view into a slightly larger buffer.
    """
    dt = np.dtype(dtype)
    n = math.prod(shape)
    raw = np.empty(n * dt.itemsize + align, np.uint8)
    start = -raw.__array_interface__["data"][0] % align
    return raw[start:start + n * dt.itemsize].view(dt).reshape(shape)
