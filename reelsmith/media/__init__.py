"""Media layer: probe, decode, encode and still images, on top of PyAV (bundled FFmpeg).

Everything a workflow needs to read or write media comes from here::

    from reelsmith.media import probe, VideoReader, VideoWriter, read_image, write_image

Decisions made once, here (see the modules for details):

- Rotation: the display matrix (phone videos) and EXIF orientation (photos) are applied
  when reading; outputs hold upright pixels and no rotation metadata.
- Colour: YUV<->RGB uses the source's own matrix and range; outputs carry the input's
  matrix, range, primaries and transfer tags.
- Odd sizes are padded by an edge pixel to the even size 4:2:0 needs (``VideoWriter.padded``).
- 10-bit input can stay 10-bit (H.264 High 10, H.265 Main 10, AV1); VP9 here is 8-bit.
- Audio is copied when the output container accepts it, else transcoded to AAC / Opus.
- Outputs are written to a hidden temporary name and renamed; a failure leaves nothing.
"""

from reelsmith.media.atomic import commit, discard, temp_path_for
from reelsmith.media.audio import AudioCarrier, AudioPlan, audio_plan, timeline_kept
from reelsmith.media.color import ColorInfo
from reelsmith.media.frame import Frame
from reelsmith.media.images import ImageInfo, apply_orientation, read_image, write_image
from reelsmith.media.probe import IMAGE_EXTENSIONS, MediaInfo, open_container, probe
from reelsmith.media.reader import VideoReader, apply_rotation, read_frames
from reelsmith.media.writer import (
    CODECS,
    SUPPORTED_VIDEO_SUFFIXES,
    VideoWriter,
    resolve_codec,
)

__all__ = [
    "CODECS",
    "IMAGE_EXTENSIONS",
    "SUPPORTED_VIDEO_SUFFIXES",
    "AudioCarrier",
    "AudioPlan",
    "ColorInfo",
    "Frame",
    "ImageInfo",
    "MediaInfo",
    "VideoReader",
    "VideoWriter",
    "apply_orientation",
    "apply_rotation",
    "audio_plan",
    "commit",
    "discard",
    "open_container",
    "probe",
    "read_frames",
    "read_image",
    "resolve_codec",
    "temp_path_for",
    "timeline_kept",
    "write_image",
]
