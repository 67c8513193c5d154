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

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I64 = ir.IntType(64)
_PTR = _I8.as_pointer()
_VOID = ir.VoidType()

TILES = 8            # tile registers of palette 1
TILE_ROWS = 16       # rows per tile
TILE_BYTES = 64      # bytes per tile row: 64 int8, or 16 int32 of C
TILE_K = 64          # k values one tile product consumes (a row of A holds 64 bytes)
TILE_N = 16          # columns of C per tile (16 int32 in 64 bytes)
TILE_SIZE = TILE_ROWS * TILE_BYTES

# The tile product per (A, B) pair, named by the signedness of (src1 = A, src2 = B): A's
# bytes come from src1 rows, B's from src2 in the VNNI layout. Native signedness means no
# +128 shift and no column-sum compensation.
PRODUCT = {"u8s8": "tdpbusd", "s8s8": "tdpbssd", "s8u8": "tdpbsud", "u8u8": "tdpbuud"}


def _fn(module: ir.Module, name: str, args: list[ir.Type]) -> ir.Function:
    return cgutils.get_or_insert_function(module, ir.FunctionType(_VOID, args), name)


def _imm(tile: int) -> ir.Constant:
    return ir.Constant(_I8, tile)


def tile_registers(tm: int, tn: int) -> tuple[list[int], list[int], list[int]]:
    """Tile numbers (C tiles row-major, A tiles, B tiles) of a TM x TN micro-kernel.

    Raises:
        ValueError: when TM*TN accumulators plus TM A and TN B tiles exceed the 8 tiles.
    """
    need = tm * tn + tm + tn
    if tm < 1 or tn < 1 or need > TILES:
        raise ValueError(f"a {tm} x {tn} tile micro-kernel needs {need} tiles ({tm * tn} C, "
                         f"{tm} A, {tn} B); {TILES} exist.")
    c = list(range(tm * tn))
    a = list(range(tm * tn, tm * tn + tm))
    b = list(range(tm * tn + tm, need))
    return c, a, b


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
def make_amx_ukernel(tm: int, tn: int, pair: str):
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
    tiles and TN B tiles and issues TM*TN tile products.

    Args:
        tm: C tiles per micro-kernel along M.
        tn: C tiles per micro-kernel along N.
        pair: "u8s8", "s8s8", "s8u8" or "u8u8" (A's type then B's).
    """
    if pair not in PRODUCT:
        raise ValueError(f"unknown int8 pair {pair!r}: use one of {', '.join(PRODUCT)}.")
    c_tiles, a_tiles, b_tiles = tile_registers(tm, tn)
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

            def c_tile_ptr(i, j):
                rows = builder.mul(ir.Constant(_I64, i * TILE_ROWS), c_stride)
                return builder.gep(c_p, [builder.add(rows, ir.Constant(_I64, j * TILE_BYTES))])

            with builder.if_else(builder.icmp_signed("!=", acc_v, ir.Constant(_I64, 0))) as (then, otherwise):
                with then:
                    for i in range(tm):
                        for j in range(tn):
                            builder.call(load, [_imm(c_tiles[i * tn + j]), c_tile_ptr(i, j), c_stride])
                with otherwise:
                    for t in c_tiles:
                        builder.call(zero, [_imm(t)])

            # for s in range(ks): the k loop, with only the step counter as SSA state (the
            # accumulators are tile registers).
            pre = builder.block
            loop = builder.append_basic_block("amx.k")
            done = builder.append_basic_block("amx.k.done")
            builder.cbranch(builder.icmp_signed(">", ks_v, ir.Constant(_I64, 0)), loop, done)
            builder.position_at_end(loop)
            s = builder.phi(_I64)
            s.add_incoming(ir.Constant(_I64, 0), pre)
            a_s = builder.gep(a_p, [builder.mul(s, ir.Constant(_I64, a_step))])
            b_s = builder.gep(b_p, [builder.mul(s, ir.Constant(_I64, b_step))])
            for i, t in enumerate(a_tiles):
                builder.call(load, [_imm(t), builder.gep(a_s, [ir.Constant(_I64, i * TILE_SIZE)]),
                                    ir.Constant(_I64, TILE_BYTES)])
            for j, t in enumerate(b_tiles):
                builder.call(load, [_imm(t), builder.gep(b_s, [ir.Constant(_I64, j * TILE_BYTES)]),
                                    ir.Constant(_I64, b_stride)])
            for i in range(tm):
                for j in range(tn):
                    builder.call(dot, [_imm(c_tiles[i * tn + j]), _imm(a_tiles[i]), _imm(b_tiles[j])])
            s_next = builder.add(s, ir.Constant(_I64, 1))
            s.add_incoming(s_next, builder.block)
            builder.cbranch(builder.icmp_signed("<", s_next, ks_v), loop, done)
            builder.position_at_end(done)

            for i in range(tm):
                for j in range(tn):
                    builder.call(store, [_imm(c_tiles[i * tn + j]), c_tile_ptr(i, j), c_stride])
            return context.get_dummy_value()

        return sig, codegen

    return ukernel
