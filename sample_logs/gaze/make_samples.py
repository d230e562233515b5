#!/usr/bin/env python3
"""Make the gaze sample files in this folder: one simulated reading of a web page,
written in every eye-tracker export format trackheat imports.

Nothing here is recorded data. A seeded simulation (so the files never change)
draws a scan path over `reference.png` (a 1600x1200 mock web page, drawn here
too): fixations of log-normal duration on the headline, the picture, the text
and the button, joined by ~40 ms saccades, with blinks, small head drift and a
few glances off the page. The same path is then written with each format's
exact column names (Pupil Labs documentation; Pupil Player's surface tracker
source; Tobii Pro Lab's data export):

    neon/gaze.csv, neon/fixations.csv          Neon / Pupil Cloud timeseries (scene px, 1600x1200)
    rim/gaze.csv, rim/fixations.csv            Reference Image Mapper, two recordings in one file
    marker-mapper/gaze.csv, .../fixations.csv  Marker Mapper (surface 0..1, origin top-left)
    neon-player/gaze_positions_on_surface_Page.csv, fixations_on_surface_Page.csv
    pupil-core/gaze_positions.csv              Pupil Core Player (world 0..1, origin bottom-left)
    pupil-core/surfaces/gaze_positions_on_surface_Page.csv, fixations_on_surface_Page.csv
    tobii/data_export.tsv                      Tobii Pro Lab data export (DACS px)
    plain/fixations.csv                        x,y,duration (px, ms)

Run from anywhere: python sample_logs/gaze/make_samples.py
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
W, H = 1600, 1200
T0_NS = 1_763_712_000_000_000_000  # 2025-11-21 08:00 UTC
# Where a reader looks, in page pixels: (x, y, weight of being chosen)
TARGETS = [
    (330, 210, 4), (620, 210, 3), (900, 215, 2),  # headline, read left to right
    (560, 520, 5), (760, 470, 3), (420, 600, 2),  # picture
    (1250, 420, 2), (1330, 520, 2),  # side box
    (230, 850, 2), (520, 850, 2), (230, 910, 2), (520, 910, 1), (860, 860, 1),  # text lines
    (1260, 880, 4),  # button
]


def draw_reference() -> np.ndarray:
    """A mock web page: header bar, headline, picture, side box, text, button."""
    img = np.full((H, W, 3), (246, 244, 240), np.uint8)
    cv2.rectangle(img, (0, 0), (W, 110), (90, 50, 30), -1)
    cv2.putText(img, "trackheat", (40, 72), cv2.FONT_HERSHEY_DUPLEX, 1.6, (240, 240, 240), 2, cv2.LINE_AA)
    for i, label in enumerate(["Home", "Docs", "Pricing", "About"]):
        cv2.putText(img, label, (900 + 160 * i, 68), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (220, 220, 220), 2, cv2.LINE_AA)
    cv2.putText(img, "Where do people look?", (120, 235), cv2.FONT_HERSHEY_DUPLEX, 2.2, (40, 40, 40), 3, cv2.LINE_AA)
    # picture: sky gradient, sun, hills
    x0, y0, x1, y1 = 120, 320, 1000, 740
    sky = np.linspace(255, 170, y1 - y0).astype(np.uint8)
    img[y0:y1, x0:x1] = np.stack([sky[:, None].repeat(x1 - x0, 1), (sky[:, None] * 0.85).astype(np.uint8).repeat(x1 - x0, 1), np.full((y1 - y0, x1 - x0), 120, np.uint8)], axis=2)
    cv2.circle(img, (780, 450), 60, (80, 200, 255), -1, cv2.LINE_AA)
    hills = np.array([[x0, y1], [x0, 620], [330, 540], [560, 640], [760, 560], [x1, 650], [x1, y1]], np.int32)
    cv2.fillPoly(img, [hills], (70, 140, 60), cv2.LINE_AA)
    cv2.rectangle(img, (x0, y0), (x1, y1), (60, 60, 60), 2)
    # side box
    cv2.rectangle(img, (1100, 320), (1500, 740), (230, 225, 215), -1)
    cv2.putText(img, "New!", (1140, 400), cv2.FONT_HERSHEY_DUPLEX, 1.4, (30, 90, 200), 2, cv2.LINE_AA)
    for k in range(6):
        cv2.rectangle(img, (1140, 450 + 45 * k), (1460 - 40 * (k % 3), 470 + 45 * k), (170, 170, 170), -1)
    # text lines
    for k in range(7):
        cv2.rectangle(img, (120, 820 + 45 * k), (1000 - 60 * (k % 4), 842 + 45 * k), (150, 150, 150), -1)
    # button
    cv2.rectangle(img, (1110, 830), (1410, 930), (40, 130, 250), -1)
    cv2.putText(img, "Sign up", (1165, 897), cv2.FONT_HERSHEY_DUPLEX, 1.5, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.rectangle(img, (0, 1130), (W, H), (200, 195, 190), -1)
    return img


def simulate(seed: int, seconds: float, rate: float):
    """Gaze samples (t, x, y, fixation index or -1, blink) and fixations (start, end, x, y) in page px."""
    rng = np.random.default_rng(seed)
    pts = np.array([(x, y) for x, y, _ in TARGETS], float)
    p = np.array([w for _, _, w in TARGETS], float)
    p /= p.sum()
    t, dt = 0.0, 1.0 / rate
    samples, fixations = [], []
    pos = pts[0].copy()
    while t < seconds:
        if rng.random() < 0.06:  # a glance off the page
            goal = np.array([rng.choice([-150.0, W + 150.0]), rng.uniform(0, H)])
        else:
            goal = pts[rng.choice(len(pts), p=p)] + rng.normal(0, 25, 2)
        sac = rng.uniform(0.03, 0.05)
        for k in range(int(sac * rate)):  # saccade: straight line, no fixation id
            a = (k + 1) / (sac * rate)
            samples.append((t, *(pos + (goal - pos) * a), -1, False))
            t += dt
        pos = goal
        dur = float(np.clip(rng.lognormal(np.log(0.26), 0.45), 0.08, 1.5))
        fid = len(fixations)
        start = t
        blink_at = start + rng.uniform(0, dur) if rng.random() < 0.08 else None
        while t < start + dur:
            jitter = rng.normal(0, 6, 2)
            blink = blink_at is not None and blink_at <= t < blink_at + 0.15
            samples.append((t, *(pos + jitter), fid, blink))
            t += dt
        fixations.append((start, t, float(pos[0]), float(pos[1])))
    s = np.array([(a, b, c, d, e) for a, b, c, d, e in samples], float)
    return s, np.array(fixations, float)


def fmt(v: float, nd: int = 3) -> str:
    return f"{v:.{nd}f}"


def write_csv(path: Path, header: list[str], rows, delimiter: str = ",", crlf: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
        w.writerow(header)
        w.writerows(rows)


def main() -> None:
    ref = draw_reference()
    cv2.imwrite(str(HERE / "reference.png"), ref)
    ids = [str(uuid.UUID(bytes=np.random.default_rng(k).bytes(16), version=4)) for k in range(1, 6)]
    section, rec_a, rec_b = ids[0], ids[1], ids[2]

    # -- Neon / Pupil Cloud timeseries: scene camera px; the page drifts with the head.
    s, fx = simulate(1, 20.0, 200.0)
    drift = np.stack([25 * np.sin(s[:, 0] / 7.0), 15 * np.sin(s[:, 0] / 5.0)], 1)
    ns = T0_NS + (s[:, 0] * 1e9).astype(np.int64)
    worn = np.where(s[:, 0] < 0.5, "0.0", "1.0")  # putting the glasses on
    blink_id = np.cumsum(np.diff(np.concatenate(([0], s[:, 4]))) > 0)
    f = 1600 / 103.0  # px per degree, roughly, for azimuth/elevation
    rows = []
    for k in range(len(s)):
        x, y = s[k, 1] + drift[k, 0], s[k, 2] + drift[k, 1]
        fid = "" if s[k, 3] < 0 else str(int(s[k, 3]) + 1)
        bid = str(int(blink_id[k])) if s[k, 4] else ""
        rows.append([section, rec_a, int(ns[k]), fmt(x), fmt(y), worn[k], fid, bid, fmt((x - 800) / f, 6), fmt((600 - y) / f, 6)])
    write_csv(HERE / "neon" / "gaze.csv", ["section id", "recording id", "timestamp [ns]", "gaze x [px]", "gaze y [px]", "worn", "fixation id", "blink id", "azimuth [deg]", "elevation [deg]"], rows)
    rows = []
    for i, (a, b, x, y) in enumerate(fx):
        d = np.interp(a, s[:, 0], drift[:, 0]), np.interp(a, s[:, 0], drift[:, 1])
        rows.append([section, rec_a, i + 1, T0_NS + int(a * 1e9), T0_NS + int(b * 1e9), int(round((b - a) * 1000)), fmt(x + d[0]), fmt(y + d[1]), fmt((x - 800) / f, 6), fmt((600 - y) / f, 6)])
    write_csv(HERE / "neon" / "fixations.csv", ["section id", "recording id", "fixation id", "start timestamp [ns]", "end timestamp [ns]", "duration [ms]", "fixation x [px]", "fixation y [px]", "azimuth [deg]", "elevation [deg]"], rows)

    # -- Reference Image Mapper: two recordings in one file, reference image px.
    g_rows, f_rows = [], []
    for rec, seed in ((rec_a, 2), (rec_b, 3)):
        s, fx = simulate(seed, 10.0, 200.0)
        ns = T0_NS + seed * 10**12 + (s[:, 0] * 1e9).astype(np.int64)
        rng = np.random.default_rng(seed)
        lost = rng.random(len(s)) < 0.03  # reference image not localised in the scene: empty cells
        for k in range(len(s)):
            x, y = s[k, 1], s[k, 2]
            on = 0 <= x < W and 0 <= y < H
            fid = "" if s[k, 3] < 0 else str(int(s[k, 3]) + 1)
            if lost[k]:
                g_rows.append([section, rec, int(ns[k]), "false", "", "", fid, ""])
            else:
                g_rows.append([section, rec, int(ns[k]), "true" if on else "false", fmt(x), fmt(y), fid, ""])
        for i, (a, b, x, y) in enumerate(fx):
            on = 0 <= x < W and 0 <= y < H
            f_rows.append([section, rec, i + 1, T0_NS + seed * 10**12 + int(a * 1e9), T0_NS + seed * 10**12 + int(b * 1e9), int(round((b - a) * 1000)), "true" if on else "false", fmt(x), fmt(y)])
    write_csv(HERE / "rim" / "gaze.csv", ["section id", "recording id", "timestamp [ns]", "gaze detected in reference image", "gaze position in reference image x [px]", "gaze position in reference image y [px]", "fixation id", "blink id"], g_rows)
    write_csv(HERE / "rim" / "fixations.csv", ["section id", "recording id", "fixation id", "start timestamp [ns]", "end timestamp [ns]", "duration [ms]", "fixation detected in reference image", "fixation x [px]", "fixation y [px]"], f_rows)
    # A RIM export ships its reference image; a smaller JPEG of the same page keeps the repo light.
    cv2.imwrite(str(HERE / "rim" / "reference_image.jpeg"), ref, [cv2.IMWRITE_JPEG_QUALITY, 70])

    # -- Marker Mapper (Cloud) and Neon Player surface: 0..1, origin top-left.
    s, fx = simulate(4, 12.0, 200.0)
    ns = T0_NS + 4 * 10**12 + (s[:, 0] * 1e9).astype(np.int64)
    u, v = s[:, 1] / W, s[:, 2] / H
    on = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    g_rows, np_rows = [], []
    for k in range(len(s)):
        fid = "" if s[k, 3] < 0 else str(int(s[k, 3]) + 1)
        g_rows.append([section, rec_a, int(ns[k]), "true" if on[k] else "false", fmt(u[k], 6), fmt(v[k], 6), fid, ""])
        np_rows.append([int(ns[k]), "True" if on[k] else "False", fmt(u[k], 6), fmt(v[k], 6)])
    f_rows, npf_rows = [], []
    for i, (a, b, x, y) in enumerate(fx):
        fon = 0 <= x / W <= 1 and 0 <= y / H <= 1
        common = [i + 1, T0_NS + 4 * 10**12 + int(a * 1e9), T0_NS + 4 * 10**12 + int(b * 1e9), int(round((b - a) * 1000))]
        f_rows.append([section, rec_a, *common, "true" if fon else "false", fmt(x / W, 6), fmt(y / H, 6)])
        npf_rows.append([*common, "True" if fon else "False", fmt(x / W, 6), fmt(y / H, 6)])
    write_csv(HERE / "marker-mapper" / "gaze.csv", ["section id", "recording id", "timestamp [ns]", "gaze detected on surface", "gaze position on surface x [normalized]", "gaze position on surface y [normalized]", "fixation id", "blink id"], g_rows)
    write_csv(HERE / "marker-mapper" / "fixations.csv", ["section id", "recording id", "fixation id", "start timestamp [ns]", "end timestamp [ns]", "duration [ms]", "fixation detected on surface", "fixation x [normalized]", "fixation y [normalized]"], f_rows)
    write_csv(HERE / "neon-player" / "gaze_positions_on_surface_Page.csv", ["timestamp [ns]", "gaze detected on surface", "gaze position on surface x [normalized]", "gaze position on surface y [normalized]"], np_rows)
    write_csv(HERE / "neon-player" / "fixations_on_surface_Page.csv", ["fixation id", "start timestamp [ns]", "end timestamp [ns]", "duration [ms]", "fixation detected on surface", "fixation x [normalized]", "fixation y [normalized]"], npf_rows)

    # -- Pupil Core Player: world camera 1280x720 looking at the page (page fills it), 0..1, origin bottom-left.
    s, fx = simulate(5, 20.0, 120.0)
    pt = 1358.25 + s[:, 0]  # Pupil time: seconds on the Capture clock, not epoch
    rng = np.random.default_rng(5)
    conf = np.clip(rng.normal(0.93, 0.08, len(s)), 0, 1)
    conf[s[:, 4] > 0] = rng.uniform(0.0, 0.4, int((s[:, 4] > 0).sum()))  # blinks: low confidence
    nx, ny = s[:, 1] / W, 1.0 - s[:, 2] / H
    world = np.floor((pt - pt[0]) * 30).astype(int)
    rows = []
    for k in range(len(s)):
        gx, gy, gz = (nx[k] - 0.5) * 300, (0.5 - ny[k]) * 170, 400.0
        rows.append([fmt(pt[k], 6), world[k], fmt(conf[k], 4), fmt(nx[k], 6), fmt(ny[k], 6), f"{pt[k] - 0.002:.6f}-0 {pt[k] + 0.001:.6f}-1",
                     fmt(gx), fmt(gy), fmt(gz), "20.1", "15.0", "-20.3", "-0.05", "0.02", "0.99", "-40.4", "14.9", "-21.0", "0.04", "0.03", "0.99"])
    core_header = ["gaze_timestamp", "world_index", "confidence", "norm_pos_x", "norm_pos_y", "base_data", "gaze_point_3d_x", "gaze_point_3d_y", "gaze_point_3d_z",
                   "eye_center0_3d_x", "eye_center0_3d_y", "eye_center0_3d_z", "gaze_normal0_x", "gaze_normal0_y", "gaze_normal0_z",
                   "eye_center1_3d_x", "eye_center1_3d_y", "eye_center1_3d_z", "gaze_normal1_x", "gaze_normal1_y", "gaze_normal1_z"]
    write_csv(HERE / "pupil-core" / "gaze_positions.csv", core_header, rows, crlf=True)
    srf = [[fmt(pt[0] + world[k] / 30.0, 6), world[k], fmt(pt[k], 6), fmt(nx[k], 6), fmt(ny[k], 6), fmt(nx[k] * 1.0, 6), fmt(ny[k] * 1.0, 6),
            str(bool(0 <= nx[k] <= 1 and 0 <= ny[k] <= 1)), fmt(conf[k], 4)] for k in range(len(s))]
    write_csv(HERE / "pupil-core" / "surfaces" / "gaze_positions_on_surface_Page.csv", ["world_timestamp", "world_index", "gaze_timestamp", "x_norm", "y_norm", "x_scaled", "y_scaled", "on_surf", "confidence"], srf, crlf=True)
    rows = []
    for i, (a, b, x, y) in enumerate(fx):
        first, last = int(np.floor(a * 30)), int(np.floor(b * 30))
        for wi in range(first, last + 1):  # Pupil Player repeats a fixation on every world frame it spans
            u, v = x / W, 1.0 - y / H
            rows.append([fmt(pt[0] + wi / 30.0, 6), wi, i + 1, fmt(1358.25 + a, 6), fmt((b - a) * 1000, 3), "1.2", fmt(u, 6), fmt(v, 6), fmt(u, 6), fmt(v, 6), str(bool(0 <= u <= 1 and 0 <= v <= 1))])
    write_csv(HERE / "pupil-core" / "surfaces" / "fixations_on_surface_Page.csv", ["world_timestamp", "world_index", "fixation_id", "start_timestamp", "duration", "dispersion", "norm_pos_x", "norm_pos_y", "x_scaled", "y_scaled", "on_surf"], rows, crlf=True)

    # -- Tobii Pro Lab: a 1600x1200 display, 120 Hz, gyroscope rows between, fixation repeated per sample.
    s, fx = simulate(6, 15.0, 120.0)
    us = (s[:, 0] * 1e6).astype(np.int64) + 2_000_000
    rows = []
    for k in range(len(s)):
        fid = int(s[k, 3])
        blink = s[k, 4] > 0
        gx = "" if blink else str(int(round(s[k, 1])))
        gy = "" if blink else str(int(round(s[k, 2])))
        if fid >= 0:
            a, b, x, y = fx[fid]
            kind, idx, dur, fxx, fyy = "Fixation", str(fid + 1), str(int(round((b - a) * 1000))), str(int(round(x))), str(int(round(y)))
        else:
            kind, idx, dur, fxx, fyy = ("EyesNotFound" if blink else "Saccade"), str(10_000 + k // 8), "33", "", ""
        valid = "Invalid" if blink else "Valid"
        rows.append([int(us[k]), "Eye Tracker", "P01", "Recording1", "1200", "1600", gx, gy, valid, valid, kind, dur, idx, fxx, fyy])
        if k % 12 == 0:
            rows.append([int(us[k]) + 100, "Gyroscope", "P01", "Recording1", "1200", "1600", "", "", "", "", kind, dur, idx, fxx, fyy])
    write_csv(HERE / "tobii" / "data_export.tsv", ["Recording timestamp [μs]", "Sensor", "Participant name", "Recording name", "Recording resolution height", "Recording resolution width",
                                                  "Gaze point X [DACS px]", "Gaze point Y [DACS px]", "Validity left", "Validity right", "Eye movement type",
                                                  "Gaze event duration [ms]", "Eye movement type index", "Fixation point X [DACS px]", "Fixation point Y [DACS px]"], rows, delimiter="\t")

    # -- Plain: x,y,duration (px of the reference image, ms).
    s, fx = simulate(7, 20.0, 200.0)
    rows = [[int(round(x)), int(round(y)), int(round((b - a) * 1000))] for a, b, x, y in fx]
    write_csv(HERE / "plain" / "fixations.csv", ["x", "y", "duration"], rows)


if __name__ == "__main__":
    main()
