"""Build of the optional C kernel ``initlab.engine._fused`` (everything else is in pyproject.toml).

The kernel is built for the machine that installs initlab (``-march=native`` where the compiler
takes it: the vector instructions it vectorizes for are the whole point). If it cannot be
built, installation goes on and initlab uses its numpy path (same results, slower).
Set INITLAB_PORTABLE=1 to build for the baseline instruction set (a wheel for other machines).
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -ffp-contract=off: no fused multiply-add, so x * scale + offset rounds twice as numpy does
# and the sums do not depend on the instruction set
BASE = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]


# tried in order until one builds: -march=native (the vector instructions the loops are written
# for), with 512-bit vectors where the compiler knows the option (x86 with AVX-512: the kernel's
# loops measured 10-25% faster than with GCC's default of 256-bit), then without it
NATIVE = [["-march=native", "-mprefer-vector-width=512"], ["-march=native"]]


class BuildExt(build_ext):
    def build_extension(self, ext):
        if self.compiler.compiler_type != "unix":
            return super().build_extension(ext)
        tries = NATIVE if not os.environ.get("INITLAB_PORTABLE") else []
        for extra in tries:
            ext.extra_compile_args = BASE + extra
            try:
                return super().build_extension(ext)
            except Exception as e:  # noqa: BLE001 - e.g. a compiler without these options
                print(f"initlab.engine._fused with {' '.join(extra)}: {e}; trying the next options",
                      file=sys.stderr)
        ext.extra_compile_args = BASE
        return super().build_extension(ext)


setup(
    ext_modules=[Extension("initlab.engine._fused", ["src/initlab/engine/_fused.c"], optional=True)],
    cmdclass={"build_ext": BuildExt},
)
