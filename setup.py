"""Build of fastloop's C extension, fastloop._core.

FASTLOOP_DEBUG=1 builds it with -O0 -g, AddressSanitizer and UBSan (see
README, "Debug builds"); otherwise -O2.  Always -Wall -Wextra, and warnings
are errors under FASTLOOP_WERROR=1 (CI sets it).
"""
import os
import sysconfig
from glob import glob

from setuptools import Extension, setup

debug = os.environ.get("FASTLOOP_DEBUG") == "1"
werror = os.environ.get("FASTLOOP_WERROR") == "1"

compile_args = ["-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE"]
link_args = []
if debug:
    sanitizers = "-fsanitize=address,undefined"
    compile_args += ["-O0", "-g3", "-fno-omit-frame-pointer", sanitizers]
    link_args += [sanitizers]
else:
    compile_args += ["-O2"]
if werror:
    compile_args.append("-Werror")

# Python's own CFLAGS may carry -O3/-g or -DNDEBUG; ours come after them.
if debug and "-DNDEBUG" in (sysconfig.get_config_var("CFLAGS") or ""):
    compile_args.append("-UNDEBUG")

setup(
    ext_modules=[
        Extension(
            "fastloop._core",
            sources=sorted(glob("src/*.c")),
            depends=sorted(glob("src/*.h")),
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ],
)
