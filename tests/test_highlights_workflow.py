"""The highlights workflow end to end: hard cases, real output properties, the CLI."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import make_stitched, overlap, planted_spans  # noqa: E402

import reelsmith  # noqa: E402
from reelsmith.analysis import transcript as transcript_mod  # noqa: E402
from reelsmith.errors import Cancelled, InputError, UnsupportedMediaError  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.workflows import get_workflow  # noqa: E402

FAST = {"min_clip": 1.0, "max_clip": 3.0}


def _run(src: Path, out: Path, **params):
    return reelsmith.run("highlights", str(src), output=str(out), **{**FAST, **params})


def _check_common(res, src: Path, target: float | None = None):
    m = res.metadata
    info = probe(res.outputs["video"])
    duration = probe(src).duration
    assert m["processing_method"] in ("visual_only", "multimodal")
    assert m["message"] and m["reason"]
    prev = 0.0
    for s in m["segments"]:
        assert prev <= s["start"] < s["end"] <= duration + 0.05
        prev = s["end"]
    if target is not None:
        assert m["output_duration"] <= target + 1e-6
        assert m["output_duration"] >= min(target, duration) - FAST["min_clip"] - 0.2
    assert abs(info.duration - m["output_duration"]) < 0.1
    report = json.loads(Path(res.outputs["report"]).read_text())
    assert report["segments"] == m["segments"]
    return m, info


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list]:
    parts = [("dull", 3.0), ("action", 2.4), ("dull", 3.0), ("dull", 2.0), ("speech", 2.0),
             ("dull", 2.4)]
    d = tmp_path_factory.mktemp("hl")
    return make_stitched(d / "planted.mp4", parts), parts


def test_planted_highlight_is_selected_over_dull(planted, tmp_path):
    src, parts = planted
    res = _run(src, tmp_path / "reel.mp4", target_duration=4.0)
    m, info = _check_common(res, src, 4.0)
    segs = [(s["start"], s["end"]) for s in m["segments"]]
    action = planted_spans(parts, ("action",))
    assert overlap(segs, action) >= 1.8
    dull = planted_spans(parts, ("dull",))
    assert overlap(segs, dull) <= 1.0
    assert info.has_audio and m["has_audio"]
    assert m["processing_method"] == "visual_only"
    assert "faster-whisper" in m["reason"] or "transcript" in m["reason"]
    assert m["scene_count"] >= 4
    assert 0.05 < m["speech_ratio"] < 0.6
    assert m["loudness"]["peak_db"] > m["loudness"]["mean_db"]
    assert set(m["segments"][0]["scores"]) >= {"loudness", "motion"}


def test_no_audio_track(tmp_path):
    src = make_stitched(tmp_path / "na.mp4", [("dull", 2.0), ("motion", 2.0), ("dull", 2.0)],
                        audio=False)
    res = _run(src, tmp_path / "reel.mp4", target_duration=2.0)
    m, info = _check_common(res, src, 2.0)
    assert not info.has_audio and m["input_has_audio"] is False
    assert m["signals"]["loudness"]["available"] is False
    assert overlap([(s["start"], s["end"]) for s in m["segments"]], [(2.0, 4.0)]) >= 1.5


def test_silence_and_no_scene_cuts_and_scene_longer_than_target(tmp_path):
    src = make_stitched(tmp_path / "sil.mp4", [("silence", 8.0)], cuts=False)
    res = _run(src, tmp_path / "reel.mp4", target_duration=3.0)
    m, info = _check_common(res, src, 3.0)
    assert m["scene_count"] == 1
    assert info.has_audio
    assert "loudness" not in m["signals_used"] and m["speech_ratio"] == 0
    assert "dropped" in m["signals"]["loudness"]


def test_target_longer_than_video_returns_whole_video(tmp_path):
    src = make_stitched(tmp_path / "w.mp4", [("dull", 1.0), ("action", 1.0)])
    res = _run(src, tmp_path / "reel.mp4", target_duration=60)
    m, info = _check_common(res, src)
    assert m["whole_video"] is True and "whole video" in m["message"]
    assert abs(info.duration - 2.0) < 0.1


def test_very_short_input_auto_target(tmp_path):
    src = make_stitched(tmp_path / "tiny.mp4", [("tone", 0.4)])
    res = _run(src, tmp_path / "reel.mp4", target_duration="auto")
    m, info = _check_common(res, src)
    assert m["whole_video"] and abs(info.duration - 0.4) < 0.08


def test_portrait_input_with_vertical_follow(tmp_path):
    src = make_stitched(tmp_path / "port.mp4", [("dull", 1.5), ("action", 1.5)],
                        width=96, height=160)
    res = _run(src, tmp_path / "reel.mp4", target_duration=1.5, vertical="follow")
    m, info = _check_common(res, src, 1.5)
    assert (info.width, info.height) == (90, 160)
    assert (m["output_width"], m["output_height"]) == (90, 160)


def test_audio_shorter_than_video(tmp_path):
    src = make_stitched(tmp_path / "sa.mp4", [("loud", 1.5), ("dull", 1.5), ("action", 2.0)],
                        audio_seconds=2.0)
    res = _run(src, tmp_path / "reel.mp4", target_duration=3.0)
    m, info = _check_common(res, src, 3.0)
    assert info.has_audio and abs(info.audio_duration - info.duration) < 0.1
    assert m["audio_seconds"] < 2.2


@pytest.mark.parametrize("content", [b"", b"this is not a video at all" * 40, b"\x00\x00\x00\x18ftypmp42" + bytes(300)])
def test_corrupt_or_non_video_input(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError) as exc:
        _run(bad, tmp_path / "reel.mp4", target_duration=5)
    assert "bad.mp4" in str(exc.value)
    assert not (tmp_path / "reel.mp4").exists()


def test_audio_only_and_image_inputs_are_refused(tmp_path):
    from mediagen import make_image

    aud = tmp_path / "a.m4a"
    with av.open(str(aud), "w") as out:
        st = out.add_stream("aac", rate=48000)
        st.layout = "mono"
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 48000), np.float32), format="fltp",
                                        layout="mono")
        fr.sample_rate, fr.pts = 48000, 0
        for p in list(st.encode(fr)) + list(st.encode(None)):
            out.mux(p)
    with pytest.raises(UnsupportedMediaError):
        _run(aud, tmp_path / "r.mp4")
    img = make_image(tmp_path / "i.png")
    with pytest.raises(InputError):
        _run(img, tmp_path / "r2.mp4")


def test_params_validation():
    wf = get_workflow("highlights")
    with pytest.raises(InputError, match="min_clip"):
        wf.parse_params({"min_clip": 10, "max_clip": 2})
    with pytest.raises(InputError, match="target_duration"):
        wf.parse_params({"target_duration": -5})
    with pytest.raises(InputError, match="vertical"):
        wf.parse_params({"vertical": "sideways"})
    p = wf.parse_params({"target_duration": "auto"})
    assert p.target_duration == "auto"
    schema = wf.describe()["params_schema"]
    assert {"target_duration", "vertical", "subtitles", "method", "crossfade", "weights"} \
        <= set(schema["properties"])


def test_cancel_leaves_nothing(planted, tmp_path):
    src, _ = planted
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        reelsmith.run("highlights", str(src), output=str(tmp_path / "c.mp4"), cancel_event=ev)
    assert list(tmp_path.iterdir()) == []


def test_subtitles_requested_without_transcript_say_why(planted, tmp_path):
    src, _ = planted
    res = _run(src, tmp_path / "reel.mp4", target_duration=3.0, subtitles="srt")
    assert "srt" not in res.outputs
    assert "no transcript" in res.metadata["subtitle_note"]


def test_multimodal_with_transcript_writes_and_burns_subtitles(planted, tmp_path, monkeypatch):
    src, _ = planted
    cues = [transcript_mod.Cue(10.4, 11.6, "what a goal"), transcript_mod.Cue(3.2, 4.4, "go go go")]

    def fake(samples, rate, **kw):
        return transcript_mod.Transcript(cues, "en", extra={"model": "fake"}), ""

    monkeypatch.setattr(transcript_mod, "transcribe", fake)
    res = _run(src, tmp_path / "reel.mp4", target_duration=5.0, subtitles="burn",
               vertical="blur-pad", crossfade=0.2)
    m, info = _check_common(res, src, 5.0)
    assert m["processing_method"] == "multimodal"
    srt = Path(res.outputs["srt"]).read_text()
    assert "-->" in srt and ("go go go" in srt or "what a goal" in srt)
    assert Path(res.outputs["vtt"]).read_text().startswith("WEBVTT")
    assert info.height > info.width


def test_cli_json_and_errors(planted, tmp_path, capsys):
    from reelsmith.cli import main

    src, _ = planted
    out = tmp_path / "cli.mp4"
    rc = main(["highlights", str(src), "-o", str(out), "--duration", "3", "--vertical",
               "center", "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metadata"]["processing_method"] == "visual_only"
    assert Path(data["outputs"]["video"]).exists()
    rc = main(["highlights", str(src), "-o", str(tmp_path / "q.mp4"), "--duration", "2"])
    text = capsys.readouterr().out
    assert rc == 0 and "reel" in text and "method:" in text
    bad = tmp_path / "bad.mp4"
    bad.write_text("nope")
    rc = main(["highlights", str(bad), "-o", str(tmp_path / "b.mp4")])
    assert rc == 2
    assert "bad.mp4" in capsys.readouterr().err
