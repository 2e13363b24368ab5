"""Assembly: settings -> a running processor, and the library's one-call video API.

- :func:`open_processor` builds segmenter -> refiner -> (tracker) -> effect from a
  :class:`~realtime_seg.pipeline.settings.ProcessingSettings`; whether a tracker runs is decided here, once.
- :func:`reconfigure` brings a live processor in line with new settings, keeping the stream's state
  (temporal smoothing, track ids) where the change does not touch it.
- :func:`process_video` runs a whole file: ``realtime_seg.process_video("in.mp4", VideoOutputs(video="out.mp4"))``.
  The command line (``process``, ``demo``) and ``tools/benchmark.py`` call it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from realtime_seg.crop import PersonCrop
from realtime_seg.errors import OutputError, VideoError
from realtime_seg.models.registry import resolve_auto
from realtime_seg.models.spec import ModelSpec
from realtime_seg.pipeline.processor import FrameProcessor, Tracker, close_effect
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.pipeline.sinks import VideoOutputs, open_sinks, partial_note
from realtime_seg.pipeline.stats import RunStats
from realtime_seg.postprocess.refine import Refiner
from realtime_seg.segmenter import Segmenter, open_segmenter

logger = logging.getLogger(__name__)


def open_settings_segmenter(settings: ProcessingSettings) -> Segmenter:
    """Open the model and backend that ``settings`` name."""
    return open_segmenter(
        settings.model,
        settings.backend,
        threads=settings.threads,
        precision=settings.precision,
        downsample=settings.downsample,
    )


def make_tracker(settings: ProcessingSettings) -> Tracker | None:
    """A new region tracker when ``settings`` need one (:attr:`ProcessingSettings.tracks`), else ``None``."""
    if not settings.tracks:
        return None
    from realtime_seg.tracking import RegionTracker  # scipy: imported only when tracking runs

    tracker: Tracker = RegionTracker()
    return tracker


def make_crop(settings: ProcessingSettings, spec: ModelSpec) -> PersonCrop | None:
    """A person-centred crop stage when ``settings.crop`` is ``auto`` and the model's spec asks for one."""
    wanted = settings.crop == "auto" and spec.crop and spec.output_kind == "probability"  # one-channel models only
    return PersonCrop() if wanted else None


def open_processor(settings: ProcessingSettings, *, segmenter: Segmenter | None = None) -> FrameProcessor:
    """The per-frame processor for ``settings``. It opens (and owns, so ``close`` closes) the segmenter
    unless an open one is given, which it then leaves open (a batch worker keeps one for many files)."""
    effect = settings.create_effect()  # a bad effect option fails before the model loads
    try:
        seg = segmenter if segmenter is not None else open_settings_segmenter(settings)
    except BaseException:
        close_effect(effect)
        raise
    return FrameProcessor(
        seg,
        Refiner(settings.refine),
        effect,
        tracker=make_tracker(settings),
        every=settings.every,
        owns_segmenter=segmenter is None,
        crop=make_crop(settings, seg.spec),
    )


def reconfigure(proc: FrameProcessor, old: ProcessingSettings, new: ProcessingSettings) -> None:
    """Apply ``new``'s refinement, effect, tracking and ``every`` to ``proc`` (the model is the caller's:
    swap ``proc.segmenter``). What did not change keeps its state; a new effect is built before the old one
    is closed, so a failure (raised) leaves ``proc`` as it was."""
    if (new.effect, new.effect_options) != (old.effect, old.effect_options):
        effect = new.create_effect()
        close_effect(proc.effect)
        proc.effect = effect
    if new.refine != old.refine:
        proc.refiner = Refiner(new.refine)
    if new.tracks != old.tracks:
        proc.tracker = make_tracker(new)
    proc.every = new.every
    if new.downsample != old.downsample:  # a new working resolution: the recurrent state restarts by itself
        proc.segmenter.downsample = new.downsample
    if new.crop != old.crop:
        proc.crop = make_crop(new, proc.segmenter.spec)


def process_video(
    input: str | Path,
    outputs: VideoOutputs,
    settings: ProcessingSettings | None = None,
    *,
    threaded: bool = True,
    keep_partial: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
    stop: threading.Event | None = None,
    segmenter: Segmenter | None = None,
) -> RunStats:
    """Process the video file ``input`` into ``outputs``; returns the run's statistics.

    - Everything that can fail (the input, every output path, the effect, the model) is checked before the
      first frame; outputs appear under their final names only when complete.
    - ``threaded=False`` runs every stage in the caller's thread (the benchmark's baseline).
    - ``keep_partial``: on an error or interruption, keep what was written as a playable file.
    - ``on_progress(done, total)`` is called after each written frame (``total``: the container's frame
      count, ``None`` when unknown); setting ``stop`` cancels the run
      (:class:`KeyboardInterrupt`, outputs removed or kept as with an error).
    - ``segmenter``: an open segmenter to use (and leave open) instead of opening the settings' model.
    - the model ``auto`` becomes :func:`~realtime_seg.models.registry.auto_model`'s pick for the input's frame size.

    Raises :class:`~realtime_seg.errors.RealtimeSegError` subclasses with one-line messages.
    """
    from realtime_seg.io.video import VideoReader
    from realtime_seg.pipeline.offline import OfflinePipeline

    settings = settings or ProcessingSettings()
    input = Path(input)
    if (outputs.outlines is not None or outputs.counts is not None) and not settings.outlines:
        settings = replace(settings, outlines=True)
    with ExitStack() as stack:
        reader = stack.enter_context(VideoReader(input, decoder_threads=0 if threaded else 1))
        # "auto": by the frame's shape (rvm on TensorRT)
        settings = replace(settings, model=resolve_auto(settings.model, reader.info.size_wh, settings.backend))
        outputs.check(input)
        if not threaded:  # the baseline: OpenCV on one thread too
            import cv2

            stack.callback(cv2.setNumThreads, cv2.getNumThreads())
            cv2.setNumThreads(1)
        processor = stack.enter_context(open_processor(settings, segmenter=segmenter))
        sinks = open_sinks(outputs, input, reader.info, threads=0 if threaded else 1, keep_partial=keep_partial)
        total = reader.info.frame_count
        on_frame = None if on_progress is None else (lambda n: on_progress(n, total))
        pipeline = OfflinePipeline(reader, processor, sinks, threaded=threaded, on_frame=on_frame, stop=stop)
        try:
            stats = pipeline.run()
        except (VideoError, OutputError) as exc:  # a broken input or a full disk half-way: say what was kept
            raise type(exc)(f"{exc}; {partial_note(sinks, pipeline.written)}") from exc
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (a subclass): keep the kind
            raise type(exc)(f"stopped after {pipeline.written} frames; {partial_note(sinks, None)}") from exc
        paths = tuple(s.close() for s in sinks)  # already closed: returns the final paths
        crop = processor.crop.summary if processor.crop is not None else "off"
        logger.info("person crop: %s", crop)
        tracker_stats = getattr(processor.tracker, "stats", None)
        tracking = tracker_stats.summary() if tracker_stats is not None else ""
        return replace(stats, outputs=paths, model=processor.segmenter.description, crop=crop, tracking=tracking)
