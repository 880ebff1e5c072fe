"""Adapters: implementations of the ports on real infrastructure.

Adapters import the core, never the other way round. Those that need optional dependencies live
in their own modules and say which extra to install.
"""

__all__: list[str] = []
