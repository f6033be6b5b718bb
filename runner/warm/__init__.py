"""The pre-warmed runner: a job's Python processes forked from a server that has imported
numpy, scipy, ase, kimpy, kim_edn, kim_property and kim_tools once (the zygote pattern).

``server.py`` is the warm server (a plain script, no Django), ``shim.c`` the ``python3`` of a
job's PATH that hands its process over to it, ``client.py`` the worker's side.
"""

from runner.warm.client import Usage, WarmServer, enabled, server_for, stop, with_warm_path

__all__ = ["Usage", "WarmServer", "enabled", "server_for", "stop", "with_warm_path"]
