"""trackheat: mouse and gaze activity heatmaps.

Data flows one way, and the packages are named for the stages:

    sources/ importers/   live pointer, screen and camera frames; files from other tools
    store.py accumulate/  the SQLite store (the only SQL); counts, densities, motion heat
    render/               density -> levels -> colours -> overlay and colour bar
    outputs/ viewer/      images, export, gaze, live; the local web viewer
    cli/                  the `trackheat` command: arguments in, one-line errors out

beside the shared vocabulary every stage may use (errors, canvas, activity,
paths, arrays). A module imports only its own stage or earlier ones
(tests/test_layout.py checks it). Importing this package never touches a
display: pynput, mss and windows are imported lazily inside the commands that
need them.
"""

__version__ = "0.1.0"
