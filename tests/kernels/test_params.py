from __future__ import annotations

import pytest

from gemmtune.kernels.params import KernelParams, lanes, normalize_dtype
from gemmtune.kernels.template import generate_source, generator_hash


def test_defaults_valid_for_both_dtypes():
    for dtype in ("float32", "float64"):
        assert KernelParams().validate(dtype)


@pytest.mark.parametrize("changes, needle", [
    ({"MC": 100}, "MC=100 is not a multiple of MR=6"),
    ({"NC": 4004}, "NC=4004 is not a multiple of NR=16"),
    ({"NR": 12}, "NR=12 is not a multiple of the 8 float32 lanes"),
    ({"MR": 0}, "MR=0 is outside"),
    ({"KC": -5}, "KC=-5 is outside"),
    ({"vec_bits": 300}, "vec_bits=300"),
    ({"parallel": "pc"}, "parallel must be one of"),
    ({"unroll": 2.5}, "unroll must be an integer"),
    ({"MR": True}, "MR must be an integer"),
])
def test_each_broken_invariant_named(changes, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        KernelParams().replace(**changes).validate("float32")


def test_from_dict_refuses_unknown_and_missing():
    with pytest.raises(ValueError, match="unknown kernel parameter 'XX'"):
        KernelParams.from_dict({**KernelParams().to_dict(), "XX": 1})
    with pytest.raises(ValueError, match="lack KC"):
        KernelParams.from_dict({"MR": 6, "NR": 16, "MC": 96, "NC": 4080})
    p = KernelParams(MR=4, NR=8, MC=8, KC=16, NC=16)
    assert KernelParams.from_dict(p.to_dict()) == p


def test_dtype_names():
    assert normalize_dtype("f32") == "float32" and normalize_dtype("f64") == "float64"
    import numpy as np

    assert normalize_dtype(np.float32) == "float32" and normalize_dtype(np.dtype("float64")) == "float64"
    with pytest.raises(ValueError, match="unsupported dtype"):
        normalize_dtype("int32")
    assert lanes(256, "float32") == 8 and lanes(512, "float64") == 8


def test_source_names_loops_and_constants():
    src = generate_source(KernelParams(), "float32")
    assert "MR, NR, MC, KC, NC = 6, 16, 96, 256, 4080" in src
    assert "uk_pp = make_ukernel(6, 16, 8, \"float32\", 4, 0, True, True)" in src
    # fastmath must not include the flags that assume away NaN and Inf
    assert "nnan" not in src and "ninf" not in src and "fastmath=True" not in src
    assert len(generator_hash()) == 12
    with pytest.raises(ValueError):
        generate_source(KernelParams(NR=12), "float32")
