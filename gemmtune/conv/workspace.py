"""The im2col buffer, kept between calls: one per thread, grown when a layer needs more.

A fresh buffer costs more than filling it: the pages of a new multi-megabyte allocation
come from the kernel, which faults and zeroes each on first touch. On ResNet-50's
C64 56x56 3x3 layer (a 7 MiB buffer) reusing it made conv2d 1.4x and conv2d_backward 1.2x
faster (docs/performance.md, section 14). The buffer is per thread, so concurrent calls from
several Python threads never share one, and it is at most ``BUFFER_LIMIT`` bytes unless a
single output row needs more (see ``plan.py``). ``release()`` frees the calling thread's.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def buffer(nbytes: int, dtype: np.dtype) -> np.ndarray:
    """A 1-D array of ``nbytes // itemsize`` elements of ``dtype``, contents undefined.

    The same memory is returned to the next call of the same thread: a caller must be done
    with it before it calls a function that takes the buffer again (the passes are).
    """
    dtype = np.dtype(dtype)
    raw = getattr(_local, "raw", None)
    if raw is None or raw.nbytes < nbytes:
        _local.raw = None  # free the smaller one before allocating the larger
        raw = _local.raw = np.empty(max(nbytes, 1), dtype=np.uint8)
    return raw[:nbytes // dtype.itemsize * dtype.itemsize].view(dtype)


def release() -> None:
    """Free the calling thread's buffer (the next convolution allocates a new one)."""
    _local.raw = None
