"""The optional C accelerator of the block scan (lldecode/audit/_native.c).

Everything else is configured in pyproject.toml.  The extension is optional:
without a C compiler the build goes on without it, and lldecode reads with
its Python code (the reference the extension is tested against).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("lldecode.audit._native", ["lldecode/audit/_native.c"],
                             optional=True)])
