"""``realtime-seg process IN -o OUT``: a video file through segmenter -> refiner -> effect into new files.

Every check that can fail (input readable, output folders writable, effect name, model) runs before
the first frame; outputs are written under temporary names and renamed only when complete.
"""

from __future__ import annotations

import argparse
import functools
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime_seg.cli._common import add_model_options, out
from realtime_seg.cli._effects import add_effect_options, add_refine_options, effect_from_args, refine_config_from_args
from realtime_seg.errors import InputError, OutputError, VideoError
from realtime_seg.pipeline.stats import RunStats

#: ONNX Runtime intra-op threads for ``process`` when ``--threads`` is not given. Measured with
#: tools/benchmark.py --mode offline --threads 1 / 2 (720p blur): 1 and 2 threads give the same FPS (ultrafast 69.5/70.0
#: vs 70.1/69.6), and 1 thread costs 0.3-1.5 ms less CPU per frame (the second core is busy decoding
#: and encoding anyway), so 1.
DEFAULT_PROCESS_THREADS = 1
#: x264 preset. 720p blur, threaded, same machine: ultrafast ~70 FPS (21 ms CPU/frame), superfast 54-65
#: (25 ms), veryfast 48-59 (30 ms); veryfast files are ~3x smaller at the same crf. ultrafast is the only
#: one that keeps >= 60 FPS on 2 shared cores; pass --preset veryfast for smaller files.
DEFAULT_PRESET = "ultrafast"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "process",
        help="process a video file: blur/replace the background, write masks, alpha or outlines",
        description="Process a video file (anything FFmpeg reads: mp4, mkv, mov, webm, avi, gif, frames/%06d.png). "
        "The audio is copied unchanged; outputs appear under their final names only when complete.",
    )
    p.add_argument("input", type=Path, help="input video (or an image sequence pattern such as frames/%%06d.png)")
    p.add_argument("-o", "--output", type=Path, help="output video (.mp4, .mkv, .mov, ...)")
    add_effect_options(p)
    add_refine_options(p)
    add_model_options(p)
    p.add_argument(
        "--every", type=int, default=1, metavar="N", help="compute the mask every N frames and reuse it in between"
    )
    p.add_argument("--masks-out", type=Path, metavar="DIR", help="write the alpha of each frame as DIR/000000.png ...")
    p.add_argument("--alpha-out", type=Path, metavar="FILE", help="write the alpha as a grey video")
    p.add_argument(
        "--outlines-out",
        type=Path,
        metavar="FILE.jsonl",
        help="write tracked region outlines (ids stable across frames) as JSON Lines, one frame per line",
    )
    p.add_argument("--codec", default="libx264", help="video encoder (default: libx264, H.264 yuv420p)")
    p.add_argument("--crf", type=int, default=23, help="quality for x264/x265/vpx, lower is better (default: 23)")
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"x264/x265 speed preset (default: {DEFAULT_PRESET})")
    p.add_argument(
        "--keep-partial",
        action="store_true",
        help="on an error or Ctrl-C, keep the frames written so far as a playable file under the output name",
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="baseline: decode, inference, OpenCV and encode one after the other on a single thread",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class ProcessOutcome:
    stats: RunStats
    outputs: tuple[Path, ...]
    model: str


def _check_outputs(args: argparse.Namespace) -> None:
    from realtime_seg.io.video import check_output_path

    if args.every < 1:
        raise InputError(f"--every must be >= 1, got {args.every}")
    named = ((args.output, "output"), (args.alpha_out, "--alpha-out"))
    files = [(p, k) for p, k in named if p is not None]
    if not files and args.masks_out is None and getattr(args, "outlines_out", None) is None:
        raise InputError("nothing to write: give -o OUT.mp4, --masks-out DIR, --alpha-out FILE or --outlines-out FILE")
    for path, kind in files:
        check_output_path(path, inputs=[args.input], kind=kind)
    if len(files) == 2 and files[0][0].resolve() == files[1][0].resolve():
        raise OutputError(f"--alpha-out and -o are the same file: {args.output}")
    if args.outlines_out is not None:
        o = args.outlines_out
        if not o.parent.is_dir():
            raise OutputError(f"--outlines-out folder does not exist: {o.parent}")
        if any(o.resolve() == p.resolve() for p in [args.input, *(f for f, _ in files)]):
            raise OutputError(f"--outlines-out {o} is the same file as the input or another output")
    if args.masks_out is not None:
        parent = args.masks_out.parent
        if not parent.is_dir():
            raise OutputError(f"--masks-out folder's parent does not exist: {parent}")
        if args.masks_out.exists() and not args.masks_out.is_dir():
            raise OutputError(f"--masks-out is a file, expected a folder: {args.masks_out}")


def execute(args: argparse.Namespace, *, progress: bool = True) -> ProcessOutcome:
    """Run one ``process`` job from parsed arguments (also used by ``demo``)."""
    from realtime_seg.io.video import VideoReader, VideoWriter
    from realtime_seg.pipeline.offline import (
        AlphaVideoSink,
        FrameSink,
        MaskPngSink,
        OfflinePipeline,
        OutlinesSink,
        VideoSink,
    )
    from realtime_seg.pipeline.processor import FrameProcessor
    from realtime_seg.postprocess.refine import Refiner
    from realtime_seg.segmenter import open_segmenter

    one = bool(args.sequential)  # the baseline: decode, inference, OpenCV and encode all on one thread
    with ExitStack() as stack:
        reader = stack.enter_context(VideoReader(args.input, decoder_threads=1 if one else 0))
        info = reader.info
        _check_outputs(args)
        effect = effect_from_args(args)
        refiner = Refiner(refine_config_from_args(args))
        threads = args.threads if args.threads is not None else DEFAULT_PROCESS_THREADS
        if one:
            import cv2

            cv2_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            stack.callback(cv2.setNumThreads, cv2_threads)
        segmenter = stack.enter_context(open_segmenter(args.model, args.backend, threads=threads))
        tracker = None
        if args.outlines_out is not None or "outline" in (args.effect or "").split("+"):
            from realtime_seg.tracking import RegionTracker

            tracker = RegionTracker()
        processor = FrameProcessor(segmenter, refiner, effect, tracker=tracker, every=args.every)

        sinks: list[FrameSink] = []
        try:
            writer = functools.partial(
                VideoWriter,
                fps=info.fps,
                time_base=info.time_base,
                size_wh=info.size_wh,
                rotation=info.rotation,
                threads=1 if one else 0,
                codec=args.codec,
                crf=args.crf,
                preset=args.preset,
                keep_partial=args.keep_partial,
            )
            if args.output is not None:
                sinks.append(VideoSink(writer(args.output, audio_from=args.input if info.has_audio else None)))
            if args.alpha_out is not None:
                sinks.append(AlphaVideoSink(writer(args.alpha_out)))
            if args.masks_out is not None:
                try:
                    args.masks_out.mkdir(exist_ok=True)
                except OSError as exc:
                    raise OutputError(f"cannot create --masks-out folder {args.masks_out}: {exc.strerror}") from exc
                sinks.append(MaskPngSink(args.masks_out))
            if args.outlines_out is not None:
                from realtime_seg.io.outlines import OutlinesWriter

                sinks.append(OutlinesSink(OutlinesWriter(args.outlines_out), keep_partial=args.keep_partial))
        except BaseException:
            for s in sinks:
                s.abort()
            raise

        bar = None
        if progress and not args.quiet:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(
                    total=info.frame_count,
                    unit="frame",
                    desc=args.input.name[:24],
                    file=sys.stderr,
                    dynamic_ncols=True,
                    smoothing=0.1,
                )
            )
        pipeline = OfflinePipeline(
            reader,
            processor,
            sinks,
            threaded=not args.sequential,
            on_frame=(lambda n: _tick(bar)) if bar is not None else None,
        )
        try:
            stats = pipeline.run()
        except VideoError as exc:
            raise VideoError(f"{exc}; {_partial_note(sinks, pipeline.written)}") from exc
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            sys.stderr.write(f"realtime-seg: stopped after {pipeline.written} frames; {_partial_note(sinks, None)}\n")
            raise
        outputs = tuple(s.close() for s in sinks)  # already closed: returns the final paths
        return ProcessOutcome(stats, outputs, segmenter.description)


def _tick(bar: Any) -> None:
    bar.update(1)


def _partial_note(sinks: list[Any], written: int | None) -> str:
    from realtime_seg.pipeline.offline import VideoSink

    kept = [str(s.kept_partial) for s in sinks if isinstance(s, VideoSink) and s.kept_partial]
    if kept:
        return f"kept the frames written so far as a playable file: {', '.join(kept)}"
    videos = [s for s in sinks if isinstance(s, VideoSink)]
    if not videos:
        return "mask PNGs written so far are kept"
    hint = f" (--keep-partial keeps the {written} frames before the error)" if written else ""
    return f"no output video was written{hint}"


def summary(outcome: ProcessOutcome) -> list[str]:
    s = outcome.stats
    mode = "threaded" if s.threaded else "sequential"
    lines = [
        f"{s.frames} frames in {s.wall_s:.2f} s: {s.fps:.1f} FPS end to end ({mode}; {outcome.model}); "
        f"CPU {s.cpu_ms_per_frame:.1f} ms/frame"
    ]
    stages = "  ".join(f"{st.stage} {st.median_ms:.2f}" for st in s.stages)
    lines.append(f"median ms per frame: {stages}")
    lines += [f"wrote {p}" for p in outcome.outputs]
    return lines


def run(args: argparse.Namespace) -> int:
    outcome = execute(args)
    if args.quiet:
        return 0
    for line in summary(outcome):
        out(line)
    return 0
