"""Say what a file that is not usable media actually looks like (for 415 messages)."""

from __future__ import annotations

from pathlib import Path

_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"7z\xbc\xaf", "a 7-Zip archive"),
    (0, b"Rar!", "a RAR archive"),
    (0, b"\x7fELF", "an ELF executable"),
    (0, b"MZ", "a Windows executable"),
    (0, b"ID3", "an MP3 audio file"),
    (0, b"fLaC", "a FLAC audio file"),
    (0, b"OggS", "an Ogg file"),
    (0, b"RIFF", "a RIFF file (WAV/AVI/WebP)"),
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF8", "a GIF image"),
    (4, b"ftyp", "an MP4/QuickTime container"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM container"),
    (0, b"SQLite format 3", "an SQLite database"),
]


def describe_file(path: Path) -> str:
    """A short phrase like "a PDF document" or "plain text (UTF-8)"."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "an unreadable file"
    if not head:
        return "an empty file"
    for offset, magic, what in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            if what.startswith("a RIFF") and head[8:12] == b"WAVE":
                return "a WAV audio file"
            return what
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return "JSON text"
    if stripped[:5].lower() in (b"<!doc", b"<html"):
        return "an HTML page"
    if stripped[:5] == b"<?xml":
        return "an XML document"
    try:
        head.decode("utf-8")
        return "plain text"
    except UnicodeDecodeError:
        return "unrecognised binary data"
