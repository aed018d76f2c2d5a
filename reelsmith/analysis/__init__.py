"""Signals for deciding what in a video is worth keeping.

One small module per signal, each with a classical default that needs no downloaded
weights: ``scenes`` (cuts), ``loudness`` (audio level per window), ``vad`` (voice activity),
``motion`` (frame difference). Optional model-backed signals degrade with a stated reason:
``transcript`` (faster-whisper), ``semantic`` (CLIP-style ONNX), ``llm`` (OpenAI-compatible
HTTP endpoint). ``pipeline.analyze`` runs them in one decoding pass; ``fusion`` combines
them and picks segments.
"""
