"""reelsmith: one engine for AI video and photo work.

Python API::

    import reelsmith
    result = reelsmith.run("upscale", "in.mp4", scale=2, output="out.mp4")
    print(result.output, result.metadata["backend"])
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "run", "list_workflows"]


def __getattr__(name: str):
    # Lazy: importing reelsmith stays cheap (no PyAV/OpenCV until used).
    if name in ("run", "list_workflows"):
        from reelsmith import api

        return getattr(api, name)
    raise AttributeError(name)
