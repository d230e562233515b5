"""Make trackheat's own sample sessions and the desktop they were "recorded" on.

The samples are synthetic but shaped like real pointer use: each action is an
aimed movement with a minimum-jerk velocity profile (Flash & Hogan 1985) whose
duration follows Fitts' law, a slight curve, hand tremor, an occasional
overshoot and corrective sub-movement, then a pause (log-normal) before the
next action, and now and then a long idle break. Targets are the widgets of
the desktop each session simulates (`browser.png`, `editor.png`,
`spreadsheet.png`, drawn here too), so the heatmaps land on something meaningful.

They are written in the Balabit mouse-dynamics CSV layout (record timestamp,
client timestamp, button, state, x, y) because it carries time, clicks and
scrolls, and `trackheat import` reads it. Run: python sample_logs/make_samples.py
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np

W, H = 1920, 1080
HERE = Path(__file__).resolve().parent
RATE = 0.008  # s between samples while moving (125 Hz)

# Widgets of the synthetic desktop: name -> (x, y, w, h)
TASKBAR = (0, 1040, 1920, 40)
TITLE = (160, 60, 1600, 36)
TOOLBAR = (160, 96, 1600, 48)
SIDEBAR = (160, 144, 260, 860)
CONTENT = (420, 144, 1310, 860)
SCROLLBAR = (1730, 144, 30, 860)
CLOSE = (1716, 60, 44, 36)
TOOL_BUTTONS = [(176 + i * 56, 104, 44, 32) for i in range(10)]
SIDEBAR_ITEMS = [(172, 160 + i * 40, 236, 32) for i in range(16)]
TASK_ICONS = [(12 + i * 56, 1046, 44, 28) for i in range(8)]


TITLES = {"editor": "report.txt - Editor", "browser": "Field notes - Browser", "spreadsheet": "budget.xlsx - Sheets"}
CELL_W, CELL_H = 120, 28  # the spreadsheet's cells, from (440, 160): 9 columns, 25 rows
SHEET_X0, SHEET_Y0 = 440, 160


def _text(img, text, org, scale=0.5, colour=(60, 60, 60)):
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def draw_desktop(path: Path, app: str = "editor") -> None:
    """The desktop a session was "recorded" on: wallpaper, taskbar and one window of `app`."""
    img = np.full((H, W, 3), (92, 64, 44), np.uint8)  # BGR wallpaper
    for y in range(H):  # a soft vertical gradient
        img[y] = np.clip(np.array((92, 64, 44)) + y * 0.05, 0, 255)

    def box(r, color, border=None):
        x, y, w, h = r
        cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), color, -1)
        if border is not None:
            cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), border, 1)

    box(TASKBAR, (40, 36, 32))
    for r in TASK_ICONS:
        box(r, (120, 110, 100), (160, 150, 140))
    _text(img, "12:00", (1840, 1066), 0.5, (230, 230, 230))
    box((160, 60, 1600, 944), (250, 250, 250), (90, 90, 90))
    box(TITLE, {"editor": (70, 60, 50), "browser": (120, 80, 40), "spreadsheet": (60, 110, 40)}[app])
    _text(img, TITLES[app], (176, 84), 0.6, (240, 240, 240))
    box(CLOSE, (60, 60, 200))
    _text(img, "x", (1732, 84), 0.6, (255, 255, 255))
    box(TOOLBAR, (236, 236, 236))
    rng = np.random.default_rng(7)
    if app == "browser":
        box(TOOL_BUTTONS[0], (210, 210, 210), (170, 170, 170))  # back
        _text(img, "<", (190, 126), 0.6)
        box((240, 104, 1400, 32), (255, 255, 255), (180, 180, 180))  # the address bar
        _text(img, "https://example.org/field-notes/chapter-3", (252, 126), 0.5, (90, 90, 90))
        box(SIDEBAR, (248, 246, 244))  # the site's navigation
        for i, r in enumerate(SIDEBAR_ITEMS[:12]):
            _text(img, f"Section {i + 1}", (r[0] + 10, r[1] + 22), 0.5, (160, 90, 30))
        box((600, 160, 900, 100), (235, 228, 220))  # a banner picture over the text column
        cv2.circle(img, (1380, 210), 30, (80, 170, 230), -1)
        for i in range(28):  # paragraphs, some with links (blue)
            y = 290 + i * 24
            if i % 7 == 6:
                continue
            x = 600
            while x < 1480:
                w = int(rng.integers(30, 110))
                colour = (200, 120, 40) if rng.random() < 0.12 else (150, 150, 150)
                cv2.rectangle(img, (x, y), (min(x + w, 1500), y + 8), colour, -1)
                x += w + 12
    elif app == "spreadsheet":
        for r in TOOL_BUTTONS:
            box(r, (210, 210, 210), (170, 170, 170))
        box((172, 160, 236, 32), (230, 240, 230), (170, 170, 170))  # the name box and sheet list
        _text(img, "D7", (182, 182))
        for i, name in enumerate(["Summary", "January", "February", "March", "Notes"]):
            _text(img, name, (182, 230 + i * 32), 0.5, (40, 110, 40))
        for c in range(9):
            x = SHEET_X0 + c * CELL_W
            box((x, SHEET_Y0 - 16, CELL_W, 16), (225, 225, 225), (190, 190, 190))
            _text(img, "ABCDEFGHI"[c], (x + CELL_W // 2 - 5, SHEET_Y0 - 3), 0.4, (90, 90, 90))
        for r in range(26):
            y = SHEET_Y0 + r * CELL_H
            cv2.line(img, (SHEET_X0, y), (SHEET_X0 + 9 * CELL_W, y), (215, 215, 215), 1)
            if r < 25:
                _text(img, str(r + 1), (SHEET_X0 - 28, y + 19), 0.4, (120, 120, 120))
                for c in range(9):
                    if rng.random() < 0.55 and (c > 0 or r % 5 != 4):
                        v = f"{rng.integers(10, 9999):,}" if c else f"Item {r + 1}"
                        _text(img, v, (SHEET_X0 + c * CELL_W + 8, y + 19), 0.42, (50, 50, 50))
        for c in range(10):
            x = SHEET_X0 + c * CELL_W
            cv2.line(img, (x, SHEET_Y0), (x, SHEET_Y0 + 25 * CELL_H), (215, 215, 215), 1)
    else:  # the editor
        for r in TOOL_BUTTONS:
            box(r, (210, 210, 210), (170, 170, 170))
        box(SIDEBAR, (244, 240, 236))
        for i, r in enumerate(SIDEBAR_ITEMS):
            _text(img, f"chapter-{i + 1:02d}.md", (r[0] + 10, r[1] + 22))
        for i in range(34):  # lines of "text"
            y = 176 + i * 24
            x = 440
            while x < 1680:
                w = int(rng.integers(30, 110))
                cv2.rectangle(img, (x, y), (min(x + w, 1700), y + 8), (150, 150, 150), -1)
                x += w + 12
                if rng.random() < 0.08:
                    break
    box(SCROLLBAR, (230, 230, 230))
    box((1734, 200, 22, 160), (180, 180, 180))
    cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


class Session:
    """An event log built action by action, on one clock."""

    def __init__(self, seed: int, start=(960, 540)) -> None:
        self.rng = np.random.default_rng(seed)
        self.t = 0.0
        self.x, self.y = start
        self.rows: list[tuple[float, str, str, int, int]] = []

    def _emit(self, button: str, state: str) -> None:
        self.rows.append((self.t, button, state, int(round(self.x)), int(round(self.y))))

    def pause(self, median: float = 0.6) -> None:
        self.t += float(self.rng.lognormal(math.log(median), 0.6))

    def move(self, tx: float, ty: float, width: float = 30.0, drag: bool = False) -> None:
        tx = float(np.clip(tx, 0, W - 1))
        ty = float(np.clip(ty, 0, H - 1))
        rng = self.rng
        dist = math.hypot(tx - self.x, ty - self.y)
        if dist < 1:
            return
        overshoot = dist > 300 and rng.random() < 0.35
        legs = []
        if overshoot:
            k = 1 + rng.uniform(0.04, 0.1)
            legs.append((self.x + (tx - self.x) * k, self.y + (ty - self.y) * k + rng.normal(0, 6)))
        legs.append((tx, ty))
        for lx, ly in legs:
            # An overshoot or a curve never leaves the screen: the pointer stops at its edge, so
            # clipping the path afterwards would pile dozens of samples on one edge pixel (a
            # fling toward the taskbar once made a 46-sample "hot spot" at (0, 1079)).
            lx, ly = float(np.clip(lx, 0, W - 1)), float(np.clip(ly, 0, H - 1))
            x0, y0 = self.x, self.y
            d = math.hypot(lx - x0, ly - y0)
            duration = 0.1 + 0.13 * math.log2(d / max(width, 4) + 1) + rng.normal(0, 0.02)
            n = max(2, int(duration / RATE))
            bend = rng.normal(0, 0.08) * d  # curved path: offset perpendicular at mid-way
            px, py = -(ly - y0) / max(d, 1), (lx - x0) / max(d, 1)
            mid_x, mid_y = (x0 + lx) / 2 + px * bend, (y0 + ly) / 2 + py * bend
            if not (0 <= mid_x <= W - 1 and 0 <= mid_y <= H - 1):
                bend = -bend  # curve the other way, into the screen
                mid_x, mid_y = (x0 + lx) / 2 + px * bend, (y0 + ly) / 2 + py * bend
                if not (0 <= mid_x <= W - 1 and 0 <= mid_y <= H - 1):
                    bend = 0.0
            for i in range(1, n + 1):
                s = i / n
                f = 10 * s**3 - 15 * s**4 + 6 * s**5  # minimum-jerk position profile
                arc = 4 * s * (1 - s) * bend
                self.x = float(np.clip(x0 + (lx - x0) * f + px * arc + rng.normal(0, 0.6), 0, W - 1))
                self.y = float(np.clip(y0 + (ly - y0) * f + py * arc + rng.normal(0, 0.6), 0, H - 1))
                self.t += RATE * rng.uniform(0.8, 1.25)
                self._emit("NoButton", "Drag" if drag else "Move")
            self.x, self.y = lx, ly
            if len(legs) > 1:
                self.t += rng.uniform(0.05, 0.15)

    def click(self, button: str = "Left") -> None:
        self.t += self.rng.uniform(0.05, 0.2)
        self._emit(button, "Pressed")
        self.t += self.rng.uniform(0.06, 0.14)
        self._emit(button, "Released")

    def scroll(self, steps: int) -> None:
        for _ in range(abs(steps)):
            self.t += self.rng.uniform(0.03, 0.12)
            self._emit("Scroll", "Down" if steps < 0 else "Up")

    def drag(self, tx: float, ty: float) -> None:
        self.t += 0.1
        self._emit("Left", "Pressed")
        self.move(tx, ty, drag=True)
        self._emit("Left", "Released")

    def target(self, r, margin: float = 0.3) -> tuple[float, float]:
        x, y, w, h = r
        return x + w * self.rng.uniform(margin, 1 - margin), y + h * self.rng.uniform(margin, 1 - margin)

    def corner_exit(self) -> None:
        """Users fling to the screen corner (show desktop): it also spans the full canvas."""
        self.move(200, 800)
        self.pause(0.4)
        self.move(W - 1, H - 1, width=200)
        self.click()

    def write(self, path: Path) -> None:
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["record timestamp", "client timestamp", "button", "state", "x", "y"])
            for t, b, s, x, y in self.rows:
                lag = float(self.rng.uniform(0.0, 0.004))
                w.writerow([f"{t + lag:.3f}", f"{t:.3f}", b, s, x, y])


def editor(seed: int = 1) -> Session:
    s = Session(seed)
    s.move(0, 0, width=200)  # a glance at the top-left hot corner
    s.pause()
    for _ in range(40):
        r = s.rng.random()
        if r < 0.35:  # place the caret in the text and type (typing itself is not logged)
            s.move(*s.target(CONTENT, 0.05), width=8)
            s.click()
            s.pause(2.5)
        elif r < 0.55:  # toolbar
            s.move(*s.target(TOOL_BUTTONS[int(s.rng.integers(0, 6))]), width=44)
            s.click()
            s.pause(0.8)
        elif r < 0.7:  # select a passage
            s.move(*s.target(CONTENT, 0.1), width=8)
            x, y = s.x, s.y
            s.drag(min(x + s.rng.uniform(100, 600), 1700), y + s.rng.choice([0, 24, 48]))
            s.pause(0.6)
        elif r < 0.85:  # read on
            s.move(*s.target(CONTENT, 0.2), width=200)
            s.scroll(-int(s.rng.integers(2, 8)))
            s.pause(1.5)
        else:  # switch chapter
            s.move(*s.target(SIDEBAR_ITEMS[int(s.rng.integers(0, 16))]), width=30)
            s.click()
            s.pause(1.0)
        if s.rng.random() < 0.04:
            s.t += float(s.rng.uniform(45, 120))  # went for coffee: idle, not dwell
    s.move(*s.target(CLOSE), width=44)
    s.pause(0.5)
    s.corner_exit()
    return s


def browser(seed: int = 2) -> Session:
    s = Session(seed, start=(900, 400))
    for _ in range(45):
        r = s.rng.random()
        if r < 0.45:  # read with the wheel, pointer parked in the text column
            s.move(*s.target((600, 300, 900, 500), 0.1), width=300)
            for _ in range(int(s.rng.integers(1, 5))):
                s.scroll(int(s.rng.choice([-1, -1, -1, 1])) * int(s.rng.integers(1, 6)))
                s.pause(1.2)
        elif r < 0.7:  # follow a link
            s.move(*s.target(CONTENT, 0.1), width=20)
            s.click()
            s.pause(2.0)
        elif r < 0.8:  # back button
            s.move(*s.target(TOOL_BUTTONS[0]), width=44)
            s.click()
            s.pause(0.8)
        elif r < 0.9:  # drag the scrollbar thumb
            s.move(1745, float(s.rng.uniform(220, 340)), width=20)
            s.drag(1745, float(s.rng.uniform(300, 900)))
            s.pause(0.7)
        else:  # switch application from the taskbar
            s.move(*s.target(TASK_ICONS[int(s.rng.integers(0, 8))]), width=44)
            s.click()
            s.pause(1.5)
    s.move(0, 0, width=200)
    s.pause()
    s.corner_exit()
    return s


def spreadsheet(seed: int = 3) -> Session:
    s = Session(seed, start=(700, 500))
    cell_w, cell_h = CELL_W, CELL_H
    for _ in range(60):
        r = s.rng.random()
        col, row = int(s.rng.integers(0, 9)), int(s.rng.integers(0, 25))
        cx, cy = SHEET_X0 + col * cell_w + cell_w / 2, SHEET_Y0 + row * cell_h + cell_h / 2
        if r < 0.6:
            s.move(cx + s.rng.normal(0, 20), cy + s.rng.normal(0, 4), width=cell_w)
            s.click()
            s.pause(1.2)
        elif r < 0.75:  # fill-down drag
            s.move(cx + 50, cy + 10, width=10)
            s.drag(cx + 50, cy + 10 + cell_h * int(s.rng.integers(2, 8)))
            s.pause(0.6)
        elif r < 0.85:  # context menu
            s.move(cx, cy, width=cell_w)
            s.click("Right")
            s.pause(0.5)
            s.move(s.x + 60, s.y + 20 + 24 * int(s.rng.integers(0, 6)), width=120)
            s.click()
            s.pause(0.8)
        else:
            s.move(*s.target(TOOL_BUTTONS[int(s.rng.integers(0, 10))]), width=44)
            s.click()
            s.pause(0.9)
    s.move(0, 0, width=200)
    s.corner_exit()
    return s


def main() -> None:
    for name, make in (("editor", editor), ("browser", browser), ("spreadsheet", spreadsheet)):
        draw_desktop(HERE / f"{name}.png", name)
        make().write(HERE / f"{name}.csv")
        print(f"wrote {name}.csv and {name}.png")


if __name__ == "__main__":
    main()
