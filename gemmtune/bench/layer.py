"""A convolution layer's row of ``gemmtune bench``: ``gemmtune.conv2d`` (forward) against
numpy's idiom (``sliding_window_view`` + ``tensordot``) and onnxruntime's Conv."""

from __future__ import annotations

from typing import Any

from .contenders import _checked, _Contender, _timed, _verified
from .row import _row


def conv_row(w, dtype, threads, root, peak_gflops, bandwidth_gbs, rounds, sample_seconds,
             peers) -> dict[str, Any]:
    """A layer: gemmtune.conv2d (forward) against numpy's idiom and onnxruntime's Conv."""
    import numpy as np

    from ..api import resolve
    from ..conv.forward import conv2d
    from ..conv.plan import conv2d_plan
    from ..conv.reference import check_conv, conv2d_ref
    from ..measure import AfterCall
    from .peers import conv as ort_conv, numpy_conv

    spec = w.conv
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec.input_shape()).astype(dtype)
    wt = rng.standard_normal(spec.weight_shape()).astype(dtype)
    kw = dict(stride=spec.stride, padding=spec.padding, dilation=spec.dilation,
              groups=spec.groups, layout=spec.layout)
    plain = spec.groups == 1 and spec.layout == "NCHW"   # what numpy's idiom covers
    cs, numpy_call = [], None
    if plain:
        npconv = numpy_conv(spec)
        numpy_call = lambda: npconv(x, wt)  # noqa: E731
        cs.append(_Contender("numpy", numpy_call, None, "numpy's sliding_window_view + tensordot"))
    # conv2d runs gemmtune.matmul on exactly these GEMMs: tuned if any of them is.
    gemms = [(g, resolve(g.problem(dtype, threads), root)) for g in spec.gemms("forward", dtype)]
    role = "tuned" if any(info["source"] != "default" for _, (_, info) in gemms) else "default"
    run = lambda: conv2d(x, wt, **kw, threads=threads, cache_dir=root)  # noqa: E731
    cs.append(_Contender(role, AfterCall(numpy_call, run) if numpy_call else run, None,
                         "gemmtune.conv2d"))
    ort = peers.make(lambda: ort_conv(spec, wt, threads))
    if ort is not None:
        cs.append(_Contender("onnxruntime", lambda: ort(x), None, "onnxruntime's Conv", peer=True))

    # The float64 reference: numpy's idiom in float64 where it applies (BLAS-fast), else the
    # oracle's direct loops.
    x64, w64 = x.astype(np.float64), wt.astype(np.float64)
    ref = np.asarray(numpy_conv(spec)(x64, w64)) if plain else conv2d_ref(x64, w64, spec)
    terms = spec.c // spec.groups * spec.r * spec.s
    a_max, b_max = float(np.abs(x).max()), float(np.abs(wt).max())
    cs, verdicts = _verified(cs, lambda y: check_conv(y, ref, a_max, b_max, terms), threads,
                             f"{spec.label()} {dtype} {threads}t", peers)
    figs = _timed(cs, threads, rounds, sample_seconds, w.flops(), peak_gflops)
    for r in ("numpy", "onnxruntime"):
        _checked(figs.get(r), verdicts.get(r))
    fig = _checked(dict(figs[role]), verdicts[role])
    fig.update(label="conv2d", lowering=conv2d_plan(spec, dtype).lowering, threads=threads,
               gemms=[{**g.to_dict(), "source": info["source"], "params": params.label()}
                      for g, (params, info) in gemms],
               timed="gemmtune.conv2d" + (", each call after numpy's" if numpy_call else ""))
    if role == "tuned":
        sources = [info["source"] for _, (_, info) in gemms]
        # "partly": some GEMMs have their own tuning and the others none to borrow.
        fig.update(source="exact" if set(sources) == {"exact"} else
                   "nearest" if "nearest" in sources else "partly",
                   tuned_problem=gemms[0][1][1].get("problem") if sources == ["nearest"] else None)
    problem = {"op": "conv2d", "conv": spec.to_dict(), "dtype": dtype, "threads": threads}
    return _row(w, problem, dtype, figs, fig if role == "default" else None,
                fig if role == "tuned" else None, peak_gflops, bandwidth_gbs)
