"""lldecode: decode and analyze Linux Landlock audit logs.

This module stays import-light on purpose: ``lldecode --version`` must answer
fast, so the stages are imported only by the commands that need them.
"""

__version__ = "0.1.0"
