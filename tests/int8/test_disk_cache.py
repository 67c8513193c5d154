"""A second process loads a compiled integer kernel from numba's disk cache instead of compiling."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys, numpy as np
from gemmtune.int8 import Int8Params, compile_int8
k = compile_int8(Int8Params(MR=2, NR=4, MC=4, KC=8, NC=8, isa="generic"), "s8s8", sys.argv[1])
A = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
assert (k(A, A.T.copy(), threads=1) == A.astype(np.int64) @ A.T).all()
print("hit" if k.from_disk_cache else "compiled")
if k.from_disk_cache:
    # numba cannot disassemble cached code: asm() compiles a fresh copy for it.
    assert len(k.asm().splitlines()) > 100
"""


def test_second_process_loads_from_the_disk_cache(tmp_path):
    runs = [subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    assert [r.stdout.strip() for r in runs] == ["compiled", "hit"]
