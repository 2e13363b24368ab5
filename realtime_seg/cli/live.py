"""``realtime-seg live``: the live pipeline with no window (a background service), optionally into a virtual camera.

Capture thread -> :class:`~realtime_seg.pipeline.live.LivePipeline` ->
:class:`~realtime_seg.pipeline.vcam.VirtualCamera`, as in the app, minus the window. Ctrl-C (exit 130) and
SIGTERM (exit 0) stop it within a second and release the camera and the device. ``--preview`` opens the app
window instead, with the virtual camera on.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import FrameType
from typing import Any

from realtime_seg.cli._common import add_crop_option, add_model_options, out, seconds_arg, size_arg
from realtime_seg.cli._effects import add_effect_options, add_refine_options, settings_from_args
from realtime_seg.errors import InputError
from realtime_seg.models.registry import AUTO_MODEL


def register(sub: argparse._SubParsersAction) -> None:
    from realtime_seg.pipeline.vcam import DEFAULT_FORMAT, FORMATS, MODPROBE

    p = sub.add_parser(
        "live",
        help="the live pipeline without a window (a background service), e.g. into a virtual camera",
        description="Segment a webcam (or a file played as a camera) with no window, and send the result to a "
        "virtual camera that video calls can pick (--virtual-camera). Prints a status line every few seconds; "
        f"stops cleanly on Ctrl-C or SIGTERM. Linux needs v4l2loopback: {MODPROBE}",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", help="camera index (default: 0)")
    src.add_argument("--input", type=Path, metavar="FILE", help="play a video file as if it were a camera (loops)")
    p.add_argument("--size", type=size_arg, default=(1280, 720), metavar="WxH", help="camera resolution (1280x720)")
    add_effect_options(p)
    add_refine_options(p)
    add_model_options(p, default_model=AUTO_MODEL)
    add_crop_option(p)
    v = p.add_argument_group("virtual camera (needs the extra: pip install 'realtime-seg[vcam]')")
    v.add_argument(
        "--virtual-camera",
        nargs="?",
        const="",
        default=None,
        metavar="DEVICE",
        help="send the result to a virtual camera: /dev/videoN on Linux (default: the first v4l2loopback device), "
        "'OBS Virtual Camera' on Windows and macOS",
    )
    v.add_argument("--vcam-size", type=size_arg, default=None, metavar="WxH", help="its size (default: the source's)")
    v.add_argument("--vcam-fps", type=float, default=None, metavar="FPS", help="its rate (default: the source's)")
    v.add_argument(
        "--vcam-format",
        default=DEFAULT_FORMAT,
        choices=tuple(FORMATS),
        help=f"pixel format given to the device (default: {DEFAULT_FORMAT}; yuyv for programs that need packed "
        "4:2:2; rgb lets the backend convert)",
    )
    v.add_argument("--vcam-mirror", action="store_true", help="flip the picture left-right before sending it")
    v.add_argument(
        "--vcam-no-raw",
        action="store_true",
        help="never send the unprocessed camera (default: it is sent while the model loads): black until the "
        "first processed frame",
    )
    p.add_argument("--preview", action="store_true", help="also open the app window (with the virtual camera on)")
    p.add_argument(
        "--status-every",
        type=seconds_arg,
        default=5.0,
        metavar="SECONDS",
        help="print a status line this often (default: 5)",
    )
    p.add_argument("--duration", type=seconds_arg, default=None, metavar="SECONDS", help="stop after SECONDS")
    p.add_argument("-q", "--quiet", action="store_true", help="no status lines (warnings and errors still show)")
    p.set_defaults(func=run)


def vcam_config_from_args(args: argparse.Namespace) -> Any:
    """``None`` without ``--virtual-camera``."""
    from realtime_seg.pipeline.vcam import VcamConfig

    if args.virtual_camera is None:
        return None
    return VcamConfig(
        device=args.virtual_camera or None,
        size_wh=args.vcam_size,
        fps=args.vcam_fps,
        fmt=args.vcam_format,
        mirror=args.vcam_mirror,
        raw=not args.vcam_no_raw,
    )


class _Stop:
    """SIGTERM (and SIGHUP) set the event; SIGINT stays Ctrl-C (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.event.set()

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)  # bad effect options fail here, before any device opens
    vcfg = vcam_config_from_args(args)
    if args.input is not None and not args.input.is_file():
        raise InputError(f"input file not found: {args.input}")
    if args.preview:
        return _preview(args, vcfg)
    return _headless(args, settings, vcfg)


def _preview(args: argparse.Namespace, vcfg: Any) -> int:
    from realtime_seg.ui.app import run_app
    from realtime_seg.ui.window import AppOptions

    opts = AppOptions(
        camera=args.camera,
        input=args.input,
        model=str(args.model),
        backend=args.backend,
        effect=args.effect,
        crop=args.crop,
        threads=args.threads,
        camera_size_wh=args.size,
        virtual_camera=vcfg,
    )
    return run_app(opts)


def _headless(args: argparse.Namespace, settings: Any, vcfg: Any) -> int:
    from realtime_seg.capture.slot import LatestFrameSlot
    from realtime_seg.capture.sources import CameraSource, FileSource, Source
    from realtime_seg.capture.thread import CaptureEvent, CaptureThread
    from realtime_seg.pipeline.live import LivePipeline, LiveResult, LiveStatus
    from realtime_seg.pipeline.vcam import VcamEvent, VirtualCamera

    quiet = args.quiet
    source: Source = FileSource(args.input) if args.input else CameraSource(args.camera or 0, *args.size)
    source.open()
    slot = LatestFrameSlot()
    latencies: deque[float] = deque(maxlen=600)
    frames = 0
    vcam: VirtualCamera | None = None
    live: LivePipeline | None = None

    def say(text: str) -> None:
        if not quiet:
            out(text)

    def on_result(r: LiveResult) -> None:
        nonlocal frames
        frames += 1
        latencies.append(r.latency_ms)
        if vcam is not None:
            vcam.submit(r.output)

    def on_status(s: LiveStatus) -> None:
        if s.level == "info":
            say(s.message)  # warnings and errors are logged (stderr) by the pipeline itself

    def on_capture(e: CaptureEvent) -> None:
        if e.message and e.state.value == "running":
            say(e.message)

    def on_vcam(e: VcamEvent) -> None:
        if e.state.value == "running":
            say(e.message)

    try:
        if vcfg is not None:
            size, fps = vcfg.resolve(source.size_wh, source.fps)
            vcam = VirtualCamera(
                vcfg,
                size,
                fps,
                raw_frame=slot.peek,
                want_raw=lambda: live is None or not live.ready.is_set() or live.paused,
                on_event=on_vcam,
            )
            vcam.open()  # a start-up error is one line and exit 1, before anything runs
    except BaseException:
        source.close()
        raise
    w, h = source.size_wh
    say(f"realtime-seg live: {source.name} ({w}x{h} @ {source.fps:.1f} fps), effect {settings.effect}")
    if vcam is not None:
        vw, vh = vcam.size_wh
        say(f"virtual camera: {vcam.device}, {vw}x{vh} @ {vcam.target_fps:g} fps, {vcam.config.fmt.upper()}")
    capture = CaptureThread(source, slot, on_event=on_capture)
    live = LivePipeline(slot, settings, on_result=on_result, on_status=on_status, capture_fps=lambda: capture.fps)
    t0 = time.monotonic()
    interrupted = False
    with _Stop() as stop:
        try:
            if vcam is not None:
                vcam.start()
            capture.start()
            live.start()
            next_status = t0 + args.status_every
            while not stop.event.wait(0.05):
                now = time.monotonic()
                if args.duration is not None and now - t0 >= args.duration:
                    break
                if now >= next_status:
                    next_status = now + args.status_every
                    lat = statistics.median(latencies) if latencies else float("nan")
                    latencies.clear()
                    line = (
                        f"capture {capture.fps:5.1f} fps | processing {live.meter.rate:5.1f} fps | "
                        f"latency {lat:4.0f} ms | dropped {slot.dropped}"
                    )
                    if vcam is not None:
                        line += f" | vcam {vcam.summary}, {vcam.repeated} repeated"
                    say(line)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            ok, t_stop = True, time.monotonic()
            for worker in (vcam, capture, live):  # each joins within a second; the camera and device are released
                if worker is not None:
                    ok = worker.stop(timeout=1.0) and ok
            slot.close()
            shutdown_ms = (time.monotonic() - t_stop) * 1e3
    took = time.monotonic() - t0
    why = "Ctrl-C" if interrupted else (stop.signal_name or "done")
    sys.stderr.write(
        f"realtime-seg live: stopped ({why}) after {frames} frames in {took:.1f} s; "
        f"threads joined, camera{' and virtual camera' if vcam else ''} released in {shutdown_ms:.0f} ms\n"
    )
    if not ok:
        sys.stderr.write("realtime-seg live: a thread did not stop within a second\n")
    if interrupted:
        raise KeyboardInterrupt
    return 0
