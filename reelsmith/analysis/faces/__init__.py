"""Faces in images and video: detection, landmarks, tracking, parsing masks, identity.

See :mod:`reelsmith.analysis.faces.types` for the conventions every module here shares.
"""

from reelsmith.analysis.faces.types import Face, kps_from_68

__all__ = ["Face", "kps_from_68"]
