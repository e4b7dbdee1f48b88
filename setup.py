"""Build of the optional C kernel ``initlab._fused`` (everything else is in pyproject.toml).

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


class BuildExt(build_ext):
    def build_extension(self, ext):
        if self.compiler.compiler_type != "unix":
            return super().build_extension(ext)
        native = not os.environ.get("INITLAB_PORTABLE")
        ext.extra_compile_args = BASE + (["-march=native"] if native else [])
        try:
            return super().build_extension(ext)
        except Exception as e:  # noqa: BLE001 - e.g. a compiler without -march=native
            if not native:
                raise
            print(f"initlab._fused: {e}; building for the baseline instruction set", file=sys.stderr)
            ext.extra_compile_args = BASE
            return super().build_extension(ext)


setup(
    ext_modules=[Extension("initlab._fused", ["src/initlab/_fused.c"], optional=True)],
    cmdclass={"build_ext": BuildExt},
)
