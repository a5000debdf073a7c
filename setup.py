"""Build of lstmkit's optional native kernel (``lstmkit.ops._native``); everything else is in pyproject.toml.

The extension is optional: without a C++ compiler the pure-PyTorch package still installs and
``lstmkit.ops.native.native_available()`` says why the native kernel is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension, build_ext, has_flag
from setuptools import setup

SOURCES = ["bindings.cpp", "threads.cpp", "isa_avx512.cpp", "isa_avx2.cpp", "isa_generic.cpp"]

UNIX_FLAGS = ["-O3", "-fno-math-errno", "-fvisibility=hidden", "-fno-tree-loop-distribute-patterns"]
compile_args = [] if sys.platform == "win32" else UNIX_FLAGS

native = Pybind11Extension(
    "lstmkit.ops._native",
    [f"csrc/{name}" for name in SOURCES],
    include_dirs=["csrc"],
    extra_compile_args=compile_args,
    cxx_std=17,
    optional=True,
)
# every header: an edit to any of them rebuilds the extension (a hand-kept list once missed gemm_tn.h)
native.depends = sorted(str(path) for pattern in ("*.h", "*.inc") for path in Path("csrc").glob(pattern))


class BuildExt(build_ext):  # type: ignore[misc]
    """Adds OpenMP where the compiler has it, so the kernel's threads are the ones torch runs on.

    torch ships its own ``libgomp.so.1``; linking the same soname makes both share one runtime and one
    pool of workers. Without OpenMP the kernel falls back to short-lived ``std::thread`` workers.
    """

    def build_extensions(self) -> None:
        if sys.platform != "win32" and has_flag(self.compiler, "-fopenmp"):
            for ext in self.extensions:
                ext.extra_compile_args = [*ext.extra_compile_args, "-fopenmp"]
                ext.extra_link_args = [*ext.extra_link_args, "-fopenmp"]
        super().build_extensions()


setup(ext_modules=[native], cmdclass={"build_ext": BuildExt})
