"""The one module that imports Numba: the compile policy of every kernel.

Policy
------
- ``FASTMATH`` lets LLVM fuse multiply-adds (``contract``), ignore the sign of
  zero (``nsz``) and use reciprocals (``arcp``).  It deliberately omits
  ``nnan``/``ninf`` (a diverging fit must still show up as NaN/inf) and
  ``reassoc``/``afn``: reassociation would let the vectoriser reorder sums
  differently from one chunking to another, and ``afn`` would loosen float64
  parity with PyTorch.
- ``error_model="numpy"``: division by zero gives inf/NaN instead of raising,
  which is also what lets loops containing a division vectorise.
- ``nogil=True``: kernels release the GIL, so that a thread pool
  (``tsrnn._engine.threads``) runs batch chunks in parallel.  Numba's own
  ``parallel=True`` layer is not used: its threading layers abort inside
  thread pools (``workqueue``) and forked children (GNU OpenMP).
- ``cache=True`` on every kernel, so a second process starts warm.  The cache
  lives where ``NUMBA_CACHE_DIR`` says (default: ``__pycache__`` beside the
  sources).  Numba invalidates a cached function only when *its own* file
  changes, not when a kernel it calls (in another file) does; so under
  ``NUMBA_CACHE_DIR`` our entries go to a subfolder named by a digest of all
  kernel sources, and an edited kernel can never be served stale.  Worker
  processes (joblib/loky, Dask, Ray) inherit ``NUMBA_CACHE_DIR`` and load the
  compiled kernels from it instead of compiling again; :func:`compile_stats`
  counts the hits and misses.
- Compile only what is used: the drivers are specialised per cell (each cell's
  entry point passes its layer functions to one generic driver, which Numba
  compiles for those functions alone) and per dtype (by the array types), so
  an LSTM user never compiles the GRU path.
"""

from __future__ import annotations

import hashlib
import pathlib
import platform

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import (
    intrinsic,
    overload,  # noqa: F401  (re-exported for the kernels)
)

FASTMATH = {"contract", "nsz", "arcp"}

_OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
_HERE = pathlib.Path(__file__).parent


def _sources_digest():
    h = hashlib.sha256()
    for path in [_HERE / "jit.py", *sorted((_HERE / "kernels").glob("*.py"))]:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


_DIGEST = _sources_digest()
_DISPATCHERS = []  # every kernel compiled through njit, for compile_stats


def njit(func=None, *, cache=True, inline=False):
    """Compile ``func`` with the project's policy (see the module docstring).

    ``cache=False`` for functions that are never called from Python (the
    per-cell drivers built by a factory): they are compiled into, and cached
    with, the entry point that calls them.  ``inline=True`` (implies no cache)
    merges the function into its callers at Numba's IR level, for glue code:
    every separately compiled function is optimised again in each caller's
    module, which made the drivers' compile time grow with their depth.
    """

    def wrap(f):
        if inline or not cache:
            # never called from Python: no CPython or C wrapper to generate
            return numba.njit(**dict(_OPTIONS, cache=False, no_cpython_wrapper=True,
                                     no_cfunc_wrapper=True,
                                     inline="always" if inline else "never"))(f)
        base = numba.config.CACHE_DIR
        if base:  # the locator reads it when the dispatcher is made, i.e. now
            numba.config.CACHE_DIR = str(pathlib.Path(base) / f"tsrnn-{_DIGEST}")
        try:
            dispatcher = numba.njit(**_OPTIONS)(f)
        finally:
            numba.config.CACHE_DIR = base
        _DISPATCHERS.append(dispatcher)
        return dispatcher

    return wrap if func is None else wrap(func)


def is_float32(numba_type) -> bool:
    """Whether a Numba type is a 32-bit float (used by ``@overload`` helpers)."""
    return isinstance(numba_type, numba.types.Float) and numba_type.bitwidth == 32


def compile_stats():
    """Cache hits and misses of this process's kernels so far.

    Returns
    -------
    dict
        ``{"hits": int, "misses": int}``: kernel signatures loaded from the
        Numba cache, and compiled afresh (a miss also writes the cache).
    """
    hits = misses = 0
    for d in _DISPATCHERS:
        hits += sum(d.stats.cache_hits.values())
        misses += sum(d.stats.cache_misses.values())
    return {"hits": hits, "misses": misses}


def is_compiled(dispatcher, dtype) -> bool:
    """Whether ``dispatcher`` has code for arrays of ``dtype``: compiled in this process
    or stored in the Numba cache for this machine.

    A cheap look at the cache index (no code is loaded); used to say "compiling"
    before a long first call.  Errs towards True: when the index cannot be
    read, it stays silent rather than announce a compile that may not happen.
    """
    name = numba.from_dtype(np.dtype(dtype)).name  # of the first argument, the inputs
    if any(name in _first_arg(sig) for sig in dispatcher.signatures):
        return True
    try:
        cache = dispatcher._cache
        index = cache._cache_file._load_index()
        magic = dispatcher.targetctx.codegen().magic_tuple()
    except Exception:  # noqa: BLE001 - Numba internals moved: do not guess "cold"
        return True
    return any(key[1] == magic and name in _first_arg(key[0]) for key in index)


def _first_arg(sig):
    """The type of a signature's first argument, as text (inside ``*args`` if any)."""
    first = sig[0]
    if isinstance(first, numba.types.BaseTuple):  # an entry point's *args
        first = first.types[0]
    return str(first)


@intrinsic
def atomic_load(typingctx, array, index):
    """``array[index]`` read with acquire ordering: a spin loop sees another thread's store
    (a plain load may be hoisted out of the loop)."""
    sig = array.dtype(array, index)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        return builder.load_atomic(ptr, "acquire", aryty.dtype.bitwidth // 8)

    return sig, codegen


@intrinsic
def atomic_store(typingctx, array, index, value):
    """``array[index] = value`` with release ordering (see :func:`atomic_load`)."""
    sig = numba.types.void(array, index, value)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        val = context.cast(builder, args[2], signature.args[2], aryty.dtype)
        builder.store_atomic(val, ptr, "release", aryty.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return sig, codegen


# The CPU's spin-loop hint, as an LLVM intrinsic (Numba's LLVM has no inline assembler).
_RELAX = {"x86_64": "llvm.x86.sse2.pause", "amd64": "llvm.x86.sse2.pause",
          "i686": "llvm.x86.sse2.pause"}.get(platform.machine().lower())


@intrinsic
def cpu_relax(typingctx):
    """Tell the CPU that this is a spin loop (x86 ``pause``: it spins gently, without
    flooding a pipeline a hyperthread sibling shares); nothing on other machines."""
    sig = numba.types.void()

    def codegen(context, builder, signature, args):
        if _RELAX:
            fn = cgutils.get_or_insert_function(builder.module,
                                                ir.FunctionType(ir.VoidType(), []), _RELAX)
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def float64_bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64: a bitcast, one instruction that
    vectorises (float-int conversions need AVX-512 to vectorise on x86)."""
    if not (isinstance(x, numba.types.Float) and x.bitwidth == 64):
        return None
    sig = numba.types.int64(x)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def bits_float64(typingctx, bits):
    """The float64 whose IEEE-754 bits are the int64 ``bits`` (see :func:`float64_bits`)."""
    if not (isinstance(bits, numba.types.Integer) and bits.bitwidth == 64):
        return None
    sig = numba.types.float64(bits)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen
