"""Serving files to download tests over real HTTP on 127.0.0.1: Range requests (for resume) and
a response cut short after ``server.cut_after`` bytes (an interrupted download)."""

from __future__ import annotations

import http.server


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Base handler: subclasses pick the bytes and call :meth:`send_bytes`."""

    def log_message(self, *a):  # quiet
        pass

    def send_bytes(self, data: bytes, *, ranges: bool = True) -> None:
        """200 with ``data``, or 206 from the requested offset when ``ranges``; the body is
        cut after ``server.cut_after`` bytes (and the connection closed) when that is set."""
        start = 0
        rng = self.headers.get("Range")
        if rng and ranges:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = getattr(self.server, "cut_after", None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)
