"""trackheat's two native parts: the live overlay's inner loop (trackheat/render/_shade.c) and
the density's pass over the points (trackheat/accumulate/_splat.c).

Everything else is in pyproject.toml. Both extensions are optional: where no C
compiler is at hand the install still succeeds, render/shader.py does the same
work with OpenCV calls and accumulate/density.py with numpy (slower; the
benchmarks say which is used).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trackheat.render._shade",
            ["trackheat/render/_shade.c"],
            optional=True,
            extra_compile_args=["-O3"],
        ),
        Extension(
            "trackheat.accumulate._splat",
            ["trackheat/accumulate/_splat.c"],
            optional=True,
            extra_compile_args=["-O3"],
        ),
    ]
)
