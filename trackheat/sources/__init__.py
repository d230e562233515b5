"""Sources: where live data comes from (the first stage).

    display.py  whether this machine has a screen the pointer and windows can use
    pointer.py  the global pointer listener (pynput, with a clean stop on X11)
    screen.py   the desktop's monitors and screenshots (mss)
    frames.py   streams of frames for `live`: the screen, a webcam, a video file

Files from other tools are sources too: trackheat.importers.
Nothing here imports a display library at import time.
"""
