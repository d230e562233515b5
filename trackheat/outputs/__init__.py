"""Outputs: what a user gets (the stage after the renderer, before the CLI).

    images.py  heatmap.png and overlay.png (colour bar, title), the one PNG writer
    export.py  a store's sessions drawn over a screenshot or the monitor outlines
    gaze.py    eye-tracker exports drawn over a reference image, as Pupil Cloud draws them
    live.py    the live window, video and snapshots over the screen or a webcam
    summary.py the numbers of a selection (stats)
    compare.py two selections' difference on a diverging colormap (the viewer's compare)
"""
