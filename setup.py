"""Build of the optional C kernels ``initlab.engine._fused`` (statistics) and ``initlab.engine._draw``
(weight draws); everything else is in pyproject.toml.

Portable by default: the module is compiled for the architecture's baseline instruction set, so
a wheel or an image built on one machine runs on any other of the architecture. On x86-64 its
hot loops are compiled two more times, for AVX2 + FMA and for AVX-512 (function attributes in
_fused.c), and the best variant the CPU supports is chosen at import (``initlab --version``
and ``_fused.build_info()`` say which). Every variant gives the same bits.

INITLAB_NATIVE=1 builds one variant for the installing machine only (``-march=native``): not
portable, for experiments. INITLAB_REQUIRE_KERNEL=1 makes a failed build an error (CI, wheels).
Otherwise, if the kernel cannot be built (no C compiler), installation goes on with a warning
and initlab uses its numpy path (same statistics, slower).
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -ffp-contract=off: no fused multiply-add, so x * scale + offset rounds twice as numpy does
# and the sums do not depend on the instruction set (tanh_f32 calls fmaf explicitly)
BASE = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]

# INITLAB_NATIVE=1, tried in order until one builds: 512-bit vectors where the compiler knows the
# option (x86 with AVX-512: the kernel's loops measured 10-25% faster than GCC's 256-bit default)
NATIVE = [["-march=native", "-mprefer-vector-width=512"], ["-march=native"]]

WARNING = """
********************************************************************************
initlab: the C statistics kernel (initlab.engine._fused) was NOT built:
    {error}
initlab works without it (its numpy path: the same statistics, 2-4x slower).
To build it, install a C compiler (gcc or clang) and the Python headers, then
reinstall (pip install -e . / make install). `initlab --version` shows the kernel.
********************************************************************************
"""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0")


class BuildExt(build_ext):
    def build_extension(self, ext):
        try:
            return self._build(ext)
        except Exception as e:  # noqa: BLE001 - no compiler, missing headers, compile errors
            if _flag("INITLAB_REQUIRE_KERNEL"):
                raise
            print(WARNING.format(error=" ".join(str(e).split())[:300]), file=sys.stderr)

    def _build(self, ext):
        if self.compiler.compiler_type != "unix":
            return super().build_extension(ext)
        tries = NATIVE if _flag("INITLAB_NATIVE") else [[]]
        for i, extra in enumerate(tries):
            flags = BASE + extra
            ext.extra_compile_args = flags
            ext.define_macros = [("INITLAB_CFLAGS", '"' + " ".join(flags) + '"')]
            if extra:
                ext.define_macros.append(("INITLAB_NATIVE", "1"))
            try:
                return super().build_extension(ext)
            except Exception as e:  # noqa: BLE001 - e.g. a compiler without these options
                if i == len(tries) - 1:
                    raise
                print(f"initlab.engine._fused with {' '.join(extra)}: {e}; trying the next options",
                      file=sys.stderr)


setup(
    # optional: setuptools then accepts a missing module wherever it looks for one; BuildExt
    # announces the failure (setuptools' own note for optional extensions is hidden by pip)
    ext_modules=[Extension(f"initlab.engine.{name}", [f"src/initlab/engine/{name}.c"],
                           optional=not _flag("INITLAB_REQUIRE_KERNEL"))
                 for name in ("_fused", "_draw")],
    cmdclass={"build_ext": BuildExt},
)
