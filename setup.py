"""The one native part of trackheat: the live overlay's inner loop (trackheat/render/_shade.c).

Everything else is in pyproject.toml. The extension is optional: where no C
compiler is at hand the install still succeeds, and render.py does the same
work with OpenCV calls (slower; `trackheat live --help` and the benchmark say which is used).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trackheat.render._shade",
            ["trackheat/render/_shade.c"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    ]
)
