"""One helper thread for work that splits in two halves (shared by the stages, so no second pool).

The live shader shades a frame as two bands of rows, and density() adds two
halves of many points into two grids: one half on the caller's thread and
one here. Both run C loops (or OpenCV calls) that release the GIL, so on a
2-core machine the halves run side by side.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()
_local = threading.local()  # set on the helper's own thread, which must never wait on the pool


def helper() -> ThreadPoolExecutor:
    """The one helper thread (started on first use)."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackheat-helper",
                                       initializer=setattr, initargs=(_local, "helper", True))
        return _POOL


def on_helper() -> bool:
    """Whether this is the helper's own thread: work submitted from here would wait behind itself."""
    return getattr(_local, "helper", False)
