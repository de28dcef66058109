"""Denormals-are-zero mode for compiled kernels (x86: the FTZ and DAZ bits of MXCSR).

Multiplying into the subnormal range is ~100x slower than normal arithmetic on x86 CPUs, and the
influence matrix decays into it entry by entry. ``begin()`` sets flush-to-zero and
denormals-are-zero for the calling thread and returns the previous control word; ``end(word)``
restores it. Both are numba intrinsics, called from inside compiled kernels only (numpy and the
rest of the process never see the mode). Values below the smallest normal number (1.2e-38 in
float32, 2.2e-308 in float64) become zero: far below the round-off of any entry they are added to.
On other CPUs both are no-ops and the kernels flush such entries explicitly.
"""

from __future__ import annotations

import platform

import numpy as np

try:
    import numba
except ImportError:  # the `fast` extra is not installed
    numba = None

SUPPORTED = numba is not None and platform.machine().lower() in ("x86_64", "amd64")
FTZ_DAZ = np.uint32(0x8040)  # MXCSR bit 15 (flush to zero) | bit 6 (denormals are zero)

if SUPPORTED:
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _control_word_call(builder, name: str, slot) -> None:
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])

    @intrinsic
    def _read_mxcsr(typingctx):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            _control_word_call(builder, "llvm.x86.sse.stmxcsr", slot)
            return builder.load(slot)

        return types.uint32(), codegen

    @intrinsic
    def _write_mxcsr(typingctx, word):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(args[0], slot)
            _control_word_call(builder, "llvm.x86.sse.ldmxcsr", slot)
            return context.get_dummy_value()

        return types.void(types.uint32), codegen

    @numba.njit(inline="always")
    def begin():
        word = _read_mxcsr()
        _write_mxcsr(word | FTZ_DAZ)
        return word

    @numba.njit(inline="always")
    def end(word):
        _write_mxcsr(word)

elif numba is not None:

    @numba.njit(inline="always")
    def begin():
        return np.uint32(0)

    @numba.njit(inline="always")
    def end(word):
        pass
