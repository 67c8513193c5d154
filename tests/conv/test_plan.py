"""conv2d_plan: the lowering, the bounded buffer, the chunks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from gemmtune.conv import BUFFER_LIMIT, ConvSpec, conv2d_plan

from .conftest import conv_specs


def test_pointwise_is_a_plain_gemm_without_buffer():
    nhwc = conv2d_plan(ConvSpec.parse("4,256,56,56,64,1,1", layout="NHWC"))
    assert nhwc.lowering == "gemm" and nhwc.buffer_bytes == 0
    assert [(g.m, g.n, g.k, g.count) for g in nhwc.gemms["forward"]] == [(4 * 56 * 56, 64, 256, 1)]
    nchw = conv2d_plan(ConvSpec.parse("4,256,56,56,64,1,1"))
    assert nchw.lowering == "gemm" and nchw.buffer_bytes == 0
    assert [(g.m, g.n, g.k, g.count) for g in nchw.gemms["forward"]] == [(64, 3136, 256, 4)]
    # Strided or padded 1x1 convolutions need the copy.
    assert conv2d_plan(ConvSpec.parse("1,256,56,56,512,1,1,2,0")).lowering == "im2col"


def test_buffer_is_reported_and_bounded():
    spec = ConvSpec.parse("8,256,14,14,256,3,3,1,1")
    plan = conv2d_plan(spec, "float32")
    assert plan.buffer_bytes == 8 * 14 * 14 * 256 * 9 * 4 and len(plan.chunks) == 1
    small = conv2d_plan(spec, "float64", buffer_limit=3 * 14 * 14 * 256 * 9 * 8)
    assert small.buffer_bytes == 3 * 14 * 14 * 256 * 9 * 8
    assert [t1 - t0 for t0, t1 in small.chunks] == [42, 42, 28]  # whole images: 3, 3, 2
    assert plan.to_dict()["buffer_bytes"] == plan.buffer_bytes


def test_an_image_larger_than_the_buffer_is_split_into_equal_row_blocks():
    spec = ConvSpec.parse("2,64,56,56,64,3,3,1,1")
    row = 64 * 9 * 56 * 4
    plan = conv2d_plan(spec, buffer_limit=20 * row)
    assert plan.buffer_bytes <= 20 * row
    assert [t1 - t0 for t0, t1 in plan.chunks] == [19, 19, 18] * 2  # 56 rows in 3 parts, per image
    assert plan.segments(*plan.chunks[3]) == [(1, 0, 19)]


def test_default_limit_holds_for_a_large_batch():
    plan = conv2d_plan(ConvSpec.parse("64,64,56,56,64,3,3,1,1"))
    assert plan.buffer_bytes <= BUFFER_LIMIT and len(plan.chunks) > 1


@settings(max_examples=60, deadline=None)
@given(conv_specs(max_n=4), st.integers(1, 5000))
def test_chunks_cover_every_output_row_once(spec, limit):
    plan = conv2d_plan(spec, buffer_limit=limit)
    P, Q = spec.output_hw()
    rows = [t for t0, t1 in plan.chunks for t in range(t0, t1)]
    assert rows == list(range(spec.n * P))
    if plan.lowering == "im2col":
        one_row = spec.c * spec.r * spec.s * Q * 4
        assert plan.buffer_bytes <= max(limit, one_row)
        for t0, t1 in plan.chunks:
            pieces = plan.segments(t0, t1)
            assert sum(p1 - p0 for _, p0, p1 in pieces) == t1 - t0


def test_bad_plan_arguments():
    spec = ConvSpec.parse("1,4,5,5,4,3,3")
    with pytest.raises(TypeError, match="float32 or float64"):
        conv2d_plan(spec, "int8")
    with pytest.raises(ValueError, match="buffer_limit"):
        conv2d_plan(spec, buffer_limit=0)
    with pytest.raises(TypeError, match="ConvSpec"):
        conv2d_plan("1,4,5,5,4,3,3")


def test_weight_gradient_transposes_the_smaller_operand():
    # 3x3: the im2col matrix has 9C rows, more than K: grad_y is transposed.
    assert conv2d_plan(ConvSpec.parse("1,64,56,56,64,3,3,1,1")).weight_grad_transposes == "dy"
    # 1x1 expansion (C=64 < K=256): x, the im2col matrix, is transposed instead.
    expand = conv2d_plan(ConvSpec.parse("1,64,56,56,256,1,1"))
    assert expand.weight_grad_transposes == "col"
    assert [(g.m, g.n, g.k) for g in expand.gemms["backward_weight"]] == [(256, 64, 3136)]


def test_plan_is_json_and_names_its_layer():
    import json

    spec = ConvSpec.parse("2,6,9,9,4,3,3,2,1", layout="NHWC")
    doc = json.loads(json.dumps(conv2d_plan(spec, "float64").to_dict()))
    assert doc["label"] == spec.label() and ConvSpec.from_dict(doc["spec"]) == spec
    assert doc["dtype"] == "float64" and doc["lowering"] == "im2col"
    assert {d for d in doc["gemms"]} == {"forward", "backward_data", "backward_weight"}


def test_layer_gemms_are_the_plans_gemms_once_each_with_their_roles():
    from gemmtune.conv import layer_gemms

    spec = ConvSpec.parse("1,64,56,56,64,3,3,1,1")
    plan = conv2d_plan(spec)
    listed = layer_gemms(spec)
    assert [(g.m, g.n, g.k) for g, _ in listed] == [
        (g.m, g.n, g.k) for d in ("forward", "backward_data", "backward_weight") for g in plan.gemms[d]]
    assert [roles for _, roles in listed] == [("forward",), ("grad_x",), ("grad_w",)]
    # A 1x1 layer with K = C runs one problem forward and for grad_x: tuned once.
    square = layer_gemms(ConvSpec.parse("1,8,5,5,8,1,1"))
    assert [(g.m, g.n, g.k, roles) for g, roles in square] == [
        (8, 25, 8, ("forward", "grad_x")), (8, 8, 25, ("grad_w",))]
    assert layer_gemms(spec, directions=("forward",)) == listed[:1]
    with pytest.raises(ValueError, match="direction must be one of"):
        layer_gemms(spec, directions=("sideways",))


def test_a_conv_suite_lists_backward_gemms_with_their_roles_when_asked():
    from gemmtune.conv import layer_gemms, load_conv_suite
    from gemmtune.shapes import load_shapes

    _, layers = load_conv_suite("resnet50")
    _, shapes = load_shapes("resnet50", conv_directions=("forward", "backward_data", "backward_weight"))
    want = {(g.m, g.n, g.k) for layer in layers for g, _ in layer_gemms(layer.spec)}
    assert {(s.m, s.n, s.k) for s in shapes} == want and len(shapes) == len(want)
    roles = {s.role for s in shapes}
    assert {"forward", "grad_x", "grad_w"} <= {r for joined in roles for r in joined.split("+")}
    assert all(s.role == "forward" for s in load_shapes("resnet50")[1])  # the default
