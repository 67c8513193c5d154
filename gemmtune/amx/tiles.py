"""AMX tile instructions as numba intrinsics, emitted as LLVM IR.

LLVM has two forms of the AMX intrinsics. The ``.internal`` ones take ``x86_amx`` values and
let LLVM allocate tile registers and write the tile configuration itself, but llvmlite.ir
has no ``x86_amx`` type. The plain ones used here take tile numbers as immediates
(``i8 0..7``) and leave the configuration to the program, as hand-written AMX assembly
does: ``tile_config`` loads a configuration with ``ldtilecfg`` in which all eight tiles are
16 rows x 64 bytes, the largest shape, and every operand is packed (zero-padded) to that
shape, so one configuration serves every tile product.

Tile state is per thread: every thread that runs a micro-kernel calls ``tile_config``
first and ``tile_release`` last (which returns the tile registers to their initial state,
so the kernel does not have to save 8 KiB of tile data on every context switch).

Nothing here may run before ``permission.amx_available()`` returned True: without the Linux
permission the first tile instruction kills the process with SIGILL.
"""

from __future__ import annotations

from functools import lru_cache

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

from .geometry import (PRODUCT, TILE_BYTES, TILE_K, TILE_N, TILE_ROWS, TILE_SIZE, TILES,
                       tile_budget)

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_PTR = _I8.as_pointer()
_VOID = ir.VoidType()

__all__ = ["PRODUCT", "TILE_K", "TILE_N", "TILE_ROWS", "TILES", "make_amx_ukernel",
           "step_schedule", "tile_budget", "tile_config", "tile_release"]


def _fn(module: ir.Module, name: str, args: list[ir.Type]) -> ir.Function:
    return cgutils.get_or_insert_function(module, ir.FunctionType(_VOID, args), name)


def _imm(tile: int) -> ir.Constant:
    return ir.Constant(_I8, tile)


def step_schedule(tm: int, tn: int, steps: int) -> list[list[tuple]]:
    """The tile operations of ``steps`` consecutive k steps, with operand tiles allocated.

    This assumes tile registers are not renamed (a load into a tile then waits until every
    product still reading it has finished), and costs nothing if they are. So operand tiles
    are not given fixed numbers; each load takes
    the free tile that has been free the longest (the pool is every tile that is not a C
    accumulator), which lets the loads of step s+1 start while the products of step s still
    read other tiles. Within a step the shorter side's tiles are loaded first and kept for
    the step; the longer side is streamed, one tile at a time, each freed after its row (or
    column) of products.

    Returns:
        One list per step of ``("loadA", tile, i)``, ``("loadB", tile, j)`` and
        ``("dot", c_tile, a_tile, b_tile)`` in program order.

    Raises:
        ValueError: when the C tiles and the operands of one step exceed the 8 tiles.
    """
    need = tile_budget(tm, tn)
    if tm < 1 or tn < 1 or need > TILES:
        raise ValueError(f"a {tm} x {tn} tile micro-kernel needs at least {need} tiles "
                         f"({tm * tn} C, {min(tm, tn)} reused, 1 streamed); {TILES} exist.")
    free = list(range(tm * tn, TILES))   # the operand pool, longest free first
    b_kept = tn <= tm
    out = []
    for _ in range(steps):
        ops: list[tuple] = []
        if b_kept:
            kept = [free.pop(0) for _ in range(tn)]
            ops += [("loadB", t, j) for j, t in enumerate(kept)]
            for i in range(tm):
                a = free.pop(0)
                ops.append(("loadA", a, i))
                ops += [("dot", i * tn + j, a, kept[j]) for j in range(tn)]
                free.append(a)
        else:
            kept = [free.pop(0) for _ in range(tm)]
            ops += [("loadA", t, i) for i, t in enumerate(kept)]
            for j in range(tn):
                b = free.pop(0)
                ops.append(("loadB", b, j))
                ops += [("dot", i * tn + j, kept[i], b) for i in range(tm)]
                free.append(b)
        free += kept
        out.append(ops)
    return out


@intrinsic
def tile_config(typingctx):
    """``tile_config()``: ldtilecfg with palette 1 and all eight tiles 16 rows x 64 bytes."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        # The 64-byte configuration: palette (byte 0), start_row (byte 1), colsb u16[16] at
        # byte 16, rows u8[16] at byte 48; unused tiles stay 0.
        cfg_t = ir.ArrayType(_I8, 64)
        cfg = cgutils.alloca_once(builder, cfg_t)
        builder.store(ir.Constant(cfg_t, None), cfg)
        base = builder.bitcast(cfg, _PTR)
        builder.store(ir.Constant(_I8, 1), base)
        for t in range(TILES):
            colsb = builder.gep(base, [ir.Constant(_I64, 16 + 2 * t)])
            builder.store(ir.Constant(_I16, TILE_BYTES), builder.bitcast(colsb, _I16.as_pointer()))
            builder.store(ir.Constant(_I8, TILE_ROWS), builder.gep(base, [ir.Constant(_I64, 48 + t)]))
        builder.call(_fn(builder.module, "llvm.x86.ldtilecfg", [_PTR]), [base])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def tile_release(typingctx):
    """``tile_release()``: tilerelease, the tile registers back to their initial state."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        builder.call(_fn(builder.module, "llvm.x86.tilerelease", []), [])
        return context.get_dummy_value()

    return sig, codegen


@lru_cache(maxsize=None)
def make_amx_ukernel(tm: int, tn: int, pair: str, unroll: int = 1, prefetch_c: bool = True):
    """Return a numba intrinsic ``ukernel(ks, Ap, a_off, Bp, b_off, C, c_off, ldc, acc)``.

    It computes the MR x NR block (MR = 16*TM rows, NR = 16*TN columns) of int32 C at element
    offset ``c_off`` of C's buffer, rows ``ldc`` elements apart: ``C = Ap @ Bp`` when ``acc``
    is 0, ``C += Ap @ Bp`` otherwise, over ``ks`` steps of 64 k values. The operands are the
    packed slivers of packing.py at byte offsets ``a_off`` and ``b_off``:

    - A: step s, row i, k value kk at ``s*MR*64 + i*64 + kk`` (tile t of step s is the 1 KiB
      at ``s*MR*64 + t*1024``, rows 64 bytes apart);
    - B (VNNI layout): k value k, column j at ``(k//4)*NR*4 + j*4 + k%4`` (tile t of step s at
      ``s*NR*64 + t*64``, rows NR*4 bytes apart).

    The TM*TN C tiles stay in tile registers for the whole k loop; each step loads TM A
    tiles and TN B tiles into the other tiles (see ``step_schedule``) and issues TM*TN tile
    products.

    Args:
        tm: C tiles of the micro-kernel along M.
        tn: C tiles of the micro-kernel along N.
        pair: "u8s8", "s8s8", "s8u8" or "u8u8" (A's type then B's).
        unroll: k steps per iteration of the emitted loop (the operand tiles rotate through
            the free tiles across the unrolled steps); a one-step loop does the rest.
        prefetch_c: prefetch the C block for writing before the k loop.
    """
    if pair not in PRODUCT:
        raise ValueError(f"unknown int8 pair {pair!r}: use one of {', '.join(PRODUCT)}.")
    if not isinstance(unroll, int) or unroll < 1:
        raise ValueError(f"unroll must be a positive integer, got {unroll!r}.")
    main_steps = step_schedule(tm, tn, unroll)
    rest_step = step_schedule(tm, tn, 1)[0]
    mr, nr = TILE_ROWS * tm, TILE_N * tn
    a_step, b_step = mr * TILE_K, nr * TILE_K
    b_stride = nr * 4
    product = f"llvm.x86.{PRODUCT[pair]}"

    @intrinsic
    def ukernel(typingctx, ks, ap, a_off, bp, b_off, c, c_off, ldc, acc):
        sig = types.void(ks, ap, a_off, bp, b_off, c, c_off, ldc, acc)

        def codegen(context, builder, signature, args):
            st = signature.args
            ks_v, a_off_v, b_off_v, c_off_v, ldc_v, acc_v = (
                context.cast(builder, args[i], st[i], types.int64) for i in (0, 2, 4, 6, 7, 8))
            mod = builder.module
            load = _fn(mod, "llvm.x86.tileloadd64", [_I8, _PTR, _I64])
            store = _fn(mod, "llvm.x86.tilestored64", [_I8, _PTR, _I64])
            zero = _fn(mod, "llvm.x86.tilezero", [_I8])
            dot = _fn(mod, product, [_I8, _I8, _I8])

            def data(i):
                return builder.bitcast(context.make_array(st[i])(context, builder, args[i]).data, _PTR)

            a_p = builder.gep(data(1), [a_off_v])
            b_p = builder.gep(data(3), [b_off_v])
            c_p = builder.gep(data(5), [builder.mul(c_off_v, ir.Constant(_I64, 4))])
            c_stride = builder.mul(ldc_v, ir.Constant(_I64, 4))
            i64 = lambda v: ir.Constant(_I64, v)  # noqa: E731

            def c_tile_ptr(i, j):
                rows = builder.mul(i64(i * TILE_ROWS), c_stride)
                return builder.gep(c_p, [builder.add(rows, i64(j * TILE_BYTES))])

            # Prefetch C for writing before the k loop: its MR rows lie ldc apart, usually in
            # as many pages and not in any cache, and a tile store that waits for them
            # stalls the tile unit for as long as a good part of the k loop.
            prefetch = cgutils.get_or_insert_function(
                mod, ir.FunctionType(_VOID, [_PTR, _I32, _I32, _I32]), "llvm.prefetch.p0")
            for r in range(mr if prefetch_c else 0):
                row = builder.gep(c_p, [builder.mul(i64(r), c_stride)])
                for line in range(tn):
                    builder.call(prefetch, [builder.gep(row, [i64(line * TILE_BYTES)]),
                                            ir.Constant(_I32, 1), ir.Constant(_I32, 3),
                                            ir.Constant(_I32, 1)])

            with builder.if_else(builder.icmp_signed("!=", acc_v, i64(0))) as (then, otherwise):
                with then:
                    for i in range(tm):
                        for j in range(tn):
                            builder.call(load, [_imm(i * tn + j), c_tile_ptr(i, j), c_stride])
                with otherwise:
                    for t in range(tm * tn):
                        builder.call(zero, [_imm(t)])

            def emit_step(s, ops):
                # s: the step's index (an i64 value); ops from step_schedule.
                a_s = builder.gep(a_p, [builder.mul(s, i64(a_step))])
                b_s = builder.gep(b_p, [builder.mul(s, i64(b_step))])
                for op in ops:
                    if op[0] == "loadA":
                        ptr = builder.gep(a_s, [i64(op[2] * TILE_SIZE)])
                        builder.call(load, [_imm(op[1]), ptr, i64(TILE_BYTES)])
                    elif op[0] == "loadB":
                        ptr = builder.gep(b_s, [i64(op[2] * TILE_BYTES)])
                        builder.call(load, [_imm(op[1]), ptr, i64(b_stride)])
                    else:
                        builder.call(dot, [_imm(op[1]), _imm(op[2]), _imm(op[3])])

            def emit_loop(name, start, stop, step, body):
                # for s in range(start, stop, step): body(s); returns the first s not run.
                pre = builder.block
                loop = builder.append_basic_block(name)
                done = builder.append_basic_block(name + ".done")
                builder.cbranch(builder.icmp_signed("<", start, stop), loop, done)
                builder.position_at_end(loop)
                s = builder.phi(_I64)
                s.add_incoming(start, pre)
                body(s)
                s_next = builder.add(s, i64(step))
                end = builder.block
                s.add_incoming(s_next, end)
                builder.cbranch(builder.icmp_signed("<", s_next, stop), loop, done)
                builder.position_at_end(done)
                out = builder.phi(_I64)
                out.add_incoming(start, pre)
                out.add_incoming(s_next, end)
                return out

            # The k loop has only the step counter as SSA state: the accumulators are tiles.
            if unroll > 1:
                main_stop = builder.mul(builder.sdiv(ks_v, i64(unroll)), i64(unroll))

                def body(s):
                    for u, ops in enumerate(main_steps):
                        emit_step(builder.add(s, i64(u)), ops)

                s_end = emit_loop("amx.k", i64(0), main_stop, unroll, body)
            else:
                s_end = i64(0)
            emit_loop("amx.k.rest", s_end, ks_v, 1, lambda s: emit_step(s, rest_step))

            for i in range(tm):
                for j in range(tn):
                    builder.call(store, [_imm(i * tn + j), c_tile_ptr(i, j), c_stride])
            return context.get_dummy_value()

        return sig, codegen

    return ukernel
