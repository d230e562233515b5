"""trackheat: mouse and gaze activity heatmaps.

Data flows one way: sources -> store or accumulator -> renderer -> outputs.
Importing this package never touches a display: pynput, mss and windows are
imported lazily inside the commands that need them.
"""

__version__ = "0.1.0"
