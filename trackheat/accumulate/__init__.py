"""Accumulators: counts and densities built from what the sources give (the second stage, beside the store).

    recorder.py  the background recorder: pointer events -> counts in memory -> the store
    pidfile.py   the recorder's pid and stop files beside its store
    motion.py    the live decaying motion heat of a stream of frames
    kernel.py    the Gaussian every density is made of, stamped or blurred exactly
    density.py   the density of positions by the cheapest exact-enough path
    reduced.py   that density blurred at reduced resolution with exact centres of mass
    splat.py     the pass over the points in C (_splat.c, optional): counts, shares, patches
    binned.py    Pupil Cloud's binned density for gaze
    fixations.py fixations from gaze samples (I-VT, I-DT)
"""
