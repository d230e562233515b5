"""The defaults of the library's calls, owned here so the command line can show them.

Each module that uses one imports it from here (render.colour takes
COLORMAP, accumulate.motion the live settings, ...), and each `--help`
shows the same value; nothing else writes these numbers down. This module
imports nothing, so `trackheat --help` does not load numpy or OpenCV.
"""

from __future__ import annotations

# How commands, their errors and the viewer name the events that have no application (imported
# logs, or while nothing identifiable had the focus); `--app "(none)"` selects them.
NO_APP_NAME = "(none)"

# The renderer (render/): how a density is coloured.
COLORMAP = "turbo"
SCALE = "max"
# export's default scale per kind, chosen on the real mouse-dynamics sessions: moves spread over the
# screen (sqrt shows the paths beside the busiest spot); clicks and dwell pile up on a few spots (one
# spot of 340 clicks under `max` hides everything else, `log` draws every single click as the same
# disc): a percentile clip keeps the rest readable, and the colour bar marks the clip.
KIND_SCALES = {"moves": "sqrt", "clicks": "p99", "dwell": "p99", "scrolls": "p99"}
ALPHA = 0.65  # opacity of the heat over the background in overlay.png

# Gaze (accumulate/binned.py): Pupil Cloud's heatmap.
BINS = 300  # bins on the wider side of the canvas
SIGMA_BINS = 3.0  # blur in bins: Pupil Cloud's 1 % of the 300 bins
CONFIDENCE = 0.6  # Pupil Core: samples under this confidence are skipped (Pupil Player's threshold)

# Fixation detection (accumulate/fixations.py): thresholds in degrees, converted with the file's pixels per degree.
PX_PER_DEGREE = 35.0  # when the file does not say: a 24-inch 1920x1080 display seen from ~65 cm
IVT_VELOCITY = 30.0  # deg/s: Tobii's I-VT fixation filter
IVT_MIN_FIXATION = 0.060  # s: Tobii's I-VT discards shorter fixations
IDT_DISPERSION = 1.0  # deg: (max x - min x) + (max y - min y), Salvucci & Goldberg 2000
IDT_MIN_FIXATION = 0.100  # s

# Live (accumulate/motion.py, sources/frames.py): the reference pipeline's settings (bench/_seeds.py).
LIVE_DECAY = 0.95  # heat kept per frame
LIVE_THRESHOLD = 25  # gray-level change that counts as motion
LIVE_BLUR = 5  # Gaussian blur kernel before differencing, px
LIVE_DILATE = 2  # dilation iterations of the motion mask
LIVE_COLORMAP = "jet"
LIVE_ALPHA = 0.4  # heat weight in the whole-frame blend (`live --blend full`); the per-level blend uses ALPHA
LIVE_BLENDS = ("level", "full")  # level: export's look (cold pixels untouched); full: the tutorial's tint
LIVE_BLEND = "level"
MAX_FPS = 30.0  # screen grabs per second at most: capture must not take a whole core from the processing

# The recorder (accumulate/recorder.py) and the dwell rule (activity.py).
FLUSH_INTERVAL = 1.0  # seconds between writes: a crash loses at most this much
IDLE_AFTER = 30.0  # seconds: a longer pause is idle time, not dwell
PERIOD = 60  # seconds: positions are counted per period of this length, so a time range can be picked to the minute
# (measured, bench/store.py: at the heavy use 1-minute periods store 4 % more than hourly ones, 5-minute 2 %)
