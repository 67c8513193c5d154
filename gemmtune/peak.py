"""The machine's measured ceilings: FMA peak GFLOP/s and STREAM-triad bandwidth.

The peak is what a core can do when nothing but FMAs stand in the way: a loop whose body is
``NACC`` independent vector FMAs on accumulators held in registers. An FMA has a latency of
4-5 cycles and the core issues up to two per cycle, so one dependent chain would measure the
latency, not the throughput; 12 independent chains (16 with 32 vector registers) are more
than latency x issue width, so every issue slot is busy. The body is emitted as LLVM IR, as
the GEMM micro-kernel is (``kernels/ukernel.py``), so LLVM can neither drop nor merge the
chains. T threads run the same loop each on their own accumulators (a numba ``prange``);
on a machine whose "cores" are SMT siblings the T-thread figure shows it.

The bandwidth is a STREAM triad ``a = b + s * c`` on arrays far larger than the last-level
cache: skinny GEMMs (a small M or N) move more bytes than they compute and are bounded by it.

Both are timed with ``measure.py``'s protocol but reported as the fastest sample, not the
median: they are ceilings, and other work on the machine can only lower a sample. They are
remembered per hardware fingerprint in ``<cache dir>/peak.json``, so ``bench`` does not
re-measure them every time.

A figure measured while other work held the cores is low (a bench once stored a 2-thread
peak of 151 GFLOP/s where the quiet machine gives 508, and the next bench printed 128% of
peak). So every figure records whether the machine was busy (``measure.cpu_share``: the
loop's threads got less than 90% of their wall time) and the load average. A busy figure is
remembered only as a lower bound: it is measured again the next time it is asked for, a
higher or quiet figure replaces it, and a quiet figure is never replaced by a lower busy one.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
FILENAME = "peak.json"
FMAS_PER_CALL = 300_000_000  # lane FMAs per thread and call: ~10 ms at 60 GFLOP/s
UNROLL = 4                   # FMA groups per loop iteration, so the loop branch is noise
TRIAD_BYTES = 3 * 64 << 20   # three 64 MiB arrays: well above any last-level cache here


def accumulators(vector_registers: int) -> int:
    """Independent FMA chains: enough to cover latency x issue width, leaving spare registers."""
    return 16 if vector_registers >= 32 else 12


@lru_cache(maxsize=None)
def _fma_loop(vl: int, nacc: int, dtype: str, fused: bool):
    """A numba intrinsic ``fma_loop(iters, x, y) -> float`` running ``iters * UNROLL * nacc``
    vector FMAs ``acc = acc * x + y`` of ``vl`` lanes; the sum of the accumulators is returned
    so the work cannot be discarded."""
    from llvmlite import ir
    from numba import types
    from numba.core.extending import intrinsic

    from .kernels.llvm_ir import counted_loop, float_type, splat, vector_fma

    i64 = ir.IntType(64)
    vec = ir.VectorType(float_type(dtype), vl)
    nb_flt = getattr(types, dtype)

    @intrinsic
    def fma_loop(typingctx, iters, x, y):
        sig = nb_flt(types.int64, nb_flt, nb_flt)

        def codegen(context, builder, signature, args):
            n = args[0]
            xs, ys = splat(builder, args[1], vec), splat(builder, args[2], vec)
            fma = vector_fma(builder, vec)
            # Distinct starting values: identical chains could be proven equal and merged.
            init = [ir.Constant(vec, [float(i + 1) / nacc] * vl) for i in range(nacc)]

            def body(i, accs):
                for _ in range(UNROLL):
                    if fused:
                        accs = [builder.call(fma, [a, xs, ys]) for a in accs]
                    else:  # no FMA unit: a multiply and an add are the same two flops
                        accs = [builder.fadd(builder.fmul(a, xs), ys) for a in accs]
                return accs

            merged, _ = counted_loop(builder, "peak.loop", ir.Constant(i64, 0), n, 1, init, body)
            total = merged[0]
            for ph in merged[1:]:
                total = builder.fadd(total, ph)
            s = builder.extract_element(total, ir.Constant(ir.IntType(32), 0))
            for lane in range(1, vl):
                s = builder.fadd(s, builder.extract_element(total, ir.Constant(ir.IntType(32), lane)))
            return s

        return sig, codegen

    return fma_loop


@lru_cache(maxsize=None)
def _runner(vl: int, nacc: int, dtype: str, fused: bool):
    """A jitted ``run(iters, threads_out)``: one FMA loop per slot of ``threads_out``, in parallel."""
    import numba

    fma_loop = _fma_loop(vl, nacc, dtype, fused)
    cast = getattr(numba, dtype)

    @numba.njit(parallel=True, nogil=True)
    def run(iters, out):
        # x slightly below 1 and y small: every chain converges to y / (1 - x) without
        # overflow or denormals, which would slow the FMA units down.
        for t in numba.prange(out.shape[0]):
            out[t] = fma_loop(iters, cast(0.999999), cast(1e-6))

    return run


def _vector_shape(dtype: str, fp: dict[str, Any]) -> tuple[int, int, int, bool]:
    from .fingerprint import vector_bits, vector_registers
    from .kernels.params import lanes

    bits = vector_bits(fp)
    ident = fp.get("identity", fp)
    fused = "fma" in ident.get("isa", ()) or ident.get("arch") in ("aarch64", "arm64")
    return bits, lanes(bits, dtype), accumulators(vector_registers(fp)), fused


def measure_peak(dtype: str, threads: int = 1, *, samples: int = 9,
                 fp: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure the FMA peak of ``threads`` threads in GFLOP/s.

    Args:
        dtype: "float32" or "float64" (aliases accepted).
        threads: threads running the loop at once (each on its own core).
        samples: samples of the timing protocol.
        fp: the fingerprint whose vector width is used (this machine's by default).

    Returns:
        ``{"gflops" (fastest sample), "gflops_median", "gflops_iqr", "per_core_gflops",
        "threads", "vector_bits", "lanes", "accumulators", "fma", "samples_seconds",
        "repeats", "unstable"}``.
    """
    import numpy as np

    from .fingerprint import fingerprint
    from .kernels.params import normalize_dtype
    from .measure import cpu_share, gflops, measure, pinned_threads

    dtype = normalize_dtype(dtype)
    fp = fp or fingerprint()
    bits, vl, nacc, fused = _vector_shape(dtype, fp)
    run = _runner(vl, nacc, dtype, fused)
    out = np.zeros(threads, dtype=dtype)
    iters = max(1, FMAS_PER_CALL // (UNROLL * nacc * vl))
    flops = 2.0 * iters * UNROLL * nacc * vl * threads
    with pinned_threads(threads):
        run(iters, out)   # compile and spin the threads up outside the share measured below
        with cpu_share(threads) as got:
            timing = measure(lambda: run(iters, out), samples=samples)
    if not np.all(np.isfinite(out)):
        raise RuntimeError("the peak loop produced non-finite values")
    # A ceiling is the fastest sample, not the median: other work on the machine can only
    # slow the loop down, nothing can make it faster than the hardware.
    g = gflops(flops, min(timing.samples))
    return {"gflops": g, "gflops_median": timing.gflops(flops),
            "gflops_iqr": timing.gflops_iqr(flops), "per_core_gflops": g / threads,
            "threads": threads, "vector_bits": bits, "lanes": vl, "accumulators": nacc,
            "fma": fused, "samples_seconds": timing.samples, "repeats": timing.repeats,
            "unstable": timing.unstable, "cpu_share": round(got.share, 3), "busy": got.busy}


def measure_bandwidth(threads: int = 1, *, nbytes: int = TRIAD_BYTES, samples: int = 5) -> dict[str, Any]:
    """STREAM triad ``a = b + s * c`` in float64 on ``threads`` threads, in GB/s (1e9 bytes).

    Counts 3 x 8 bytes per element (two reads, one write), as STREAM does; the
    write-allocate read of ``a`` is not counted, so this is the figure STREAM would print.
    """
    import numba
    import numpy as np

    from .measure import cpu_share, measure, pinned_threads

    n = max(1, nbytes // 24)
    b = np.full(n, 1.0)
    c = np.full(n, 2.0)
    a = np.empty(n)
    triad = _triad()
    with pinned_threads(threads):
        triad(a, b, c, 3.0)
        with cpu_share(threads) as got:
            timing = measure(lambda: triad(a, b, c, 3.0), samples=samples, min_sample_seconds=0.1)
    best = min(timing.samples)   # a ceiling, like the peak: the fastest sample
    return {"gbs": 24.0 * n / best / 1e9 if best > 0 else 0.0,
            "gbs_median": 24.0 * n / timing.median / 1e9 if timing.median > 0 else 0.0,
            "threads": threads,
            "bytes": 24 * n, "samples_seconds": timing.samples, "unstable": timing.unstable,
            "numba_threads": numba.config.NUMBA_NUM_THREADS, "cpu_share": round(got.share, 3),
            "busy": got.busy}


@lru_cache(maxsize=None)
def _triad():
    import numba

    @numba.njit(parallel=True, nogil=True)
    def triad(a, b, c, s):
        for i in numba.prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    return triad


# -- memo: <root>/peak.json, per fingerprint -------------------------------------------------

def _path(root: str | os.PathLike) -> Path:
    return Path(root) / FILENAME


def _load(root: str | os.PathLike) -> dict[str, Any]:
    try:
        return _parse(_path(root).read_text())
    except OSError:
        return _parse(None)


def _parse(text: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text) if text is not None else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION \
            or not isinstance(doc.get("fingerprints"), dict):
        return {"schema_version": SCHEMA_VERSION, "fingerprints": {}}
    return doc


def _remember(root: str | os.PathLike, fid: str, kind: str, key: str, fig: dict[str, Any]) -> bool:
    """Add one figure to the memo under its lock (another bench may be adding its own);
    False (and nothing damaged) when the dir is not writable."""
    from .atomic import update_atomic

    def change(old: str | None) -> str:
        doc = _parse(old)
        doc["fingerprints"].setdefault(fid, {}).setdefault(kind, {})[key] = fig
        return json.dumps(doc, indent=2)

    try:
        update_atomic(_path(root), change)
        return True
    except OSError:
        return False


def _when() -> dict[str, Any]:
    """When a figure was measured, and the 1-minute load then."""
    from .measure import load_average

    return {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average": load_average()}


def keep(known: dict[str, Any] | None, fresh: dict[str, Any], value: str) -> dict[str, Any]:
    """Which of two measurements of one ceiling to remember (``value``: the figure's key).

    A ceiling can only be underestimated by other work on the machine, so the higher figure
    is the better one, except that a quiet figure always replaces a busy one (the busy one
    may have been lucky in one sample but its spread says nothing) and a busy figure never
    replaces a quiet one that is higher.
    """
    if not _usable(known, value):
        return fresh
    assert known is not None
    if known.get("busy") and not fresh.get("busy"):
        return fresh
    if fresh.get("busy") and not known.get("busy"):
        return fresh if fresh[value] > known[value] else known
    return fresh if fresh[value] >= known[value] else known


def _usable(fig: Any, value: str) -> bool:
    return isinstance(fig, dict) and isinstance(fig.get(value), (int, float)) \
        and not isinstance(fig.get(value), bool)


def _memoized(root: str | os.PathLike, kind: str, key: str, value: str, remeasure: bool,
              measure_fn: Any) -> dict[str, Any]:
    """The remembered figure of ``kind``/``key`` unless it is missing, busy or ``remeasure``;
    otherwise measure, remember the better of the two (:func:`keep`) and return it."""
    from .fingerprint import fingerprint_id

    fid = fingerprint_id()
    known = _load(root)["fingerprints"].get(fid, {}).get(kind, {}).get(key)
    if not remeasure and _usable(known, value) and not known.get("busy"):
        return {**known, "memoized": True}
    fresh = {**measure_fn(), **_when()}
    chosen = keep(known if _usable(known, value) else None, fresh, value)
    if chosen is fresh:
        _remember(root, fid, kind, key, fresh)
        return {**fresh, "memoized": False}
    # The remembered figure stays the machine's; say that a lower one was just measured.
    return {**chosen, "memoized": True, "remeasured_lower": fresh[value],
            "remeasured_busy": bool(fresh.get("busy"))}


def peak(dtype: str, threads: int, root: str | os.PathLike, *, remeasure: bool = False) -> dict[str, Any]:
    """The FMA peak of ``threads`` threads, measured once per fingerprint and remembered.

    A remembered figure measured while the machine was busy is measured again; see
    :func:`keep` for which one is remembered.

    Returns:
        :func:`measure_peak`'s figure plus ``"measured_at"``, ``"load_average"``, ``"busy"``
        and ``"memoized"`` (True when it came from ``peak.json``).
    """
    from .kernels.params import normalize_dtype

    dtype = normalize_dtype(dtype)
    return _memoized(root, dtype, str(threads), "gflops", remeasure,
                     lambda: measure_peak(dtype, threads))


def bandwidth(threads: int, root: str | os.PathLike, *, remeasure: bool = False) -> dict[str, Any]:
    """The STREAM-triad bandwidth of ``threads`` threads, remembered like :func:`peak`."""
    return _memoized(root, "triad", str(threads), "gbs", remeasure,
                     lambda: measure_bandwidth(threads))


def roofline(flops: float, nbytes: float, peak_gflops: float, gbs: float | None) -> float:
    """The attainable GFLOP/s: the peak, or the bandwidth times the arithmetic intensity
    (flops per byte of the minimum traffic) when that is lower."""
    if not gbs or nbytes <= 0:
        return peak_gflops
    return min(peak_gflops, gbs * flops / nbytes)
