"""The reference pipelines: the tutorial's starter scripts as they were written, which benchmarks and tests compare to.

"seed" in bench/ and tests/ means these: the code trackheat started from and is measured against.

One copy, imported by bench/live.py and tests/test_motion.py (bench/run.py skips files that
start with an underscore, so this is not run as a benchmark).
"""

from __future__ import annotations

import cv2
import numpy as np


def seed_pipeline(frames, decay=0.95, threshold=25, blur=5, dilate=2, colormap=cv2.COLORMAP_JET, alpha=0.4):
    """The seed's starter pipeline, as written there: yields (heat 0..1, overlay) per frame."""
    prev = None
    acc = None
    for frame in frames:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        gray = cv2.GaussianBlur(gray, (blur, blur), 0)
        if prev is None:
            prev = gray
            acc = np.zeros(gray.shape, np.float32)
        diff = cv2.absdiff(prev, gray)
        prev = gray
        _, motion = cv2.threshold(diff, threshold, 255, cv2.THRESH_BINARY)
        motion = cv2.dilate(motion, None, iterations=dilate)
        acc *= decay
        acc += motion.astype(np.float32)
        norm = acc / acc.max() if acc.max() > 0 else acc.copy()
        heat = cv2.applyColorMap((norm * 255).astype(np.uint8), colormap)
        overlay = cv2.addWeighted(frame, 1 - alpha, heat, alpha, 0)
        yield norm, overlay
