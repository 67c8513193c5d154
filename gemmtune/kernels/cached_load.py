"""Load a compiled driver from numba's disk cache without numba's compiler set-up.

``Dispatcher.compile`` asks the disk cache first, but numba's ``Cache.load_overload`` begins
with ``target_context.refresh()``: the first time in a process that imports and registers
every implementation numba can compile (the numpy API, random, typed containers, linalg,
and through ``numba.np.linalg`` scipy when it is installed). Measured here, that is 0.3 s
without scipy and 0.7 s with it, paid by the first ``gemmtune.matmul`` of every process
although a cached kernel needs none of it: loading machine code needs the numba runtime
(NRT) initialised, the library unpickled and linked, nothing that compiles.

``load_cached`` does exactly the rest of ``Dispatcher.compile``'s cache branch, skipping the
refresh; a later compile in the process (any numba function) still refreshes first, as
numba's compiler always does. It relies on numba internals (``Dispatcher._cache`` and
``Cache._load_overload``), so anything unexpected makes it return False and the caller
takes numba's public path, which is never wrong, only slower to start.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def load_cached(dispatcher: Any, sig: tuple) -> bool:
    """Install ``dispatcher``'s overload for ``sig`` from numba's disk cache; False on a miss."""
    try:
        from numba.core.caching import Cache
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.runtime import rtsys

        cache = getattr(dispatcher, "_cache", None)
        if not isinstance(cache, Cache):
            return False  # cache=False, or a numba whose cache we do not know
        targetctx = dispatcher.targetctx
        with global_compiler_lock:
            if tuple(sig) in dispatcher.overloads:
                return True
            # What refresh() would do first and the loaded code needs: NRT allocates the
            # kernel's packing buffers.
            rtsys.initialize(targetctx)
            cres = cache._load_overload(sig, targetctx)
            if cres is None or cres.objectmode:
                return False
            targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
            dispatcher.add_overload(cres)
            dispatcher._cache_hits[sig] += 1
        return True
    except Exception as exc:  # an internal numba changed: numba's own path still works
        log.debug("fast load from numba's disk cache failed (%s); using numba's path", exc)
        return False
