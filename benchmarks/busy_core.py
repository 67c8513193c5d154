"""What the search's run share (``gemmtune.contention.run_share``) reads beside a busy core.

Times the search's finish measurement (``search.worker.remeasure``: numpy's product and the
default kernel of the family, interleaved, both conditions) in this process, first with
nothing beside it, then beside a busy loop pinned to the last usable core in a session of its
own (so an autogroup of its own, as a process started from another terminal) at autogroup
nice 19 and at nice 0, and prints one JSON line per measurement: the share, its parts and the
figures. Linux only (``/proc``); run it on an otherwise quiet machine::

    python benchmarks/busy_core.py 512 float32 2 [repeats]

``"numpy"`` as a fourth argument times numpy alone (the study's reference). The table of
docs/performance.md section 11 ("The busy verdict") came from this measurement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

_LOOP = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"


def busy_loop(core: int, nice: int) -> subprocess.Popen:
    """A busy loop on ``core`` in a session (and so an autogroup) of its own at ``nice``."""
    proc = subprocess.Popen([sys.executable, "-c", _LOOP, str(core)], start_new_session=True)
    time.sleep(0.2)
    with open(f"/proc/{proc.pid}/autogroup", "w") as f:
        f.write(str(nice))
    return proc


def main() -> None:
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")   # as the gemmtune command sets it
    from gemmtune.contention import run_share
    from gemmtune.families import family_for
    from gemmtune.problem import Problem
    from gemmtune.search.messages import RemeasureRequest
    from gemmtune.search.worker import remeasure

    n, dtype, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4].isdigit() else 2
    numpy_only = "numpy" in sys.argv[4:]
    problem = Problem(n, n, n, dtype, threads)
    family = family_for(problem)
    root = tempfile.mkdtemp(prefix="gemmtune-busy-")
    candidates = [] if numpy_only else [family.default_params(problem).to_dict()]
    request = RemeasureRequest(candidates=candidates, problem=problem.to_dict(),
                               family=family.name, root=root, rounds=7, min_sample_seconds=0.1)
    remeasure(request)   # compile and warm up
    core = max(os.sched_getaffinity(0))
    for _ in range(repeats):
        for nice in (None, 19, 0):
            loop = busy_loop(core, nice) if nice is not None else None
            try:
                with run_share() as got:
                    out = remeasure(request)
            finally:
                if loop is not None:
                    loop.kill()
                    loop.wait()
            print(json.dumps({
                "beside": "nothing" if nice is None else f"busy loop on core {core}, autogroup nice {nice}",
                "share": got.share, "run_seconds": got.run_seconds,
                "wait_seconds": got.wait_seconds, "others_seconds": got.others_seconds,
                "numpy_gflops": out.numpy.get("gflops"),
                "kernel_gflops": [c.get("gflops") for c in out.candidates]}), flush=True)


if __name__ == "__main__":
    main()
