"""What the live pipeline hands out: :class:`LiveResult` per frame, :class:`LiveStatus` messages, and
:func:`short_error`, the one-line form of an error for a status line. Qt-free."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from realtime_seg.frame import Frame
from realtime_seg.pipeline.processor import Processed
from realtime_seg.postprocess.types import MaskFrame

StatusLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class LiveResult:
    """One frame through the live pipeline, immutable, safe to hand to another thread.

    ``processed`` is ``None`` when no model could be loaded (the output is then the camera frame).
    ``t_done - frame.t`` is the capture-to-output latency; the rates are measured over the last second.
    """

    frame: Frame
    processed: Processed | None
    t_done: float
    capture_fps: float
    processing_fps: float
    dropped: int
    effect: str

    def __post_init__(self) -> None:
        self.output.setflags(write=False)

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def t_capture(self) -> float:
        return self.frame.t

    @property
    def output(self) -> np.ndarray:
        return self.processed.output if self.processed is not None else self.frame.image

    @property
    def mask(self) -> MaskFrame | None:
        return self.processed.mask if self.processed is not None else None

    @property
    def timings_ms(self) -> dict[str, float]:
        return dict(self.processed.timings_ms) if self.processed is not None else {}

    @property
    def region_count(self) -> int | None:
        """Tracked regions in this frame; ``None`` when no tracker runs."""
        return len(self.processed.mask.regions) if self.processed is not None and self.processed.tracked else None

    @property
    def tracking(self) -> Any:
        """The tracker's stats after this frame (``.counts`` / ``.distinct`` per class); ``None`` without one."""
        return self.processed.tracking if self.processed is not None else None

    @property
    def latency_ms(self) -> float:
        return (self.t_done - self.frame.t) * 1e3


@dataclass(frozen=True)
class LiveStatus:
    """A message for the user, plus the active backend and why (e.g. ``ONNX Runtime CPU: TensorRT not installed``).

    ``message`` is one short line; ``details`` the full text (every attempt's error) when there is more to say.
    ``model`` is the model that runs once this status is out ("" when none does); ``model_failed`` the model
    asked for that could not be loaded ("" when it loaded).
    """

    level: StatusLevel
    message: str
    backend: str = ""
    model: str = ""
    details: str = ""
    model_failed: str = ""


_PARENTHESES = re.compile(r"\s*\([^()]*\)")


def short_error(exc: BaseException, limit: int = 110) -> str:
    """One short line for the user: the message's first line without parenthesised internals (protobuf's
    "Wire format was corrupt", exception type names), paths shortened to file names, cut at ``limit``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _PARENTHESES.sub("", text)
    text = re.sub(r"(?:[\w.~-]*/)+([\w.-]+)", r"\1", text)  # /a/b/model.onnx -> model.onnx
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "..."
