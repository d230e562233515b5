# The C loop's interface (trackheat/render/_shade.c): buffers are numpy arrays checked in C.
from typing import Any

simd: str

def shade(*args: Any) -> None: ...
