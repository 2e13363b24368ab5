"""One small error hierarchy under :class:`RealtimeSegError`.

Every error a user can cause (bad input, missing model, absent hardware) is one of these, so the
CLI can print one clear line and exit non-zero instead of a traceback.
"""

from __future__ import annotations


class RealtimeSegError(Exception):
    """Base class of every error this package raises on purpose."""

    #: the process exit code the CLI uses for this error
    exit_code: int = 1


class ModelError(RealtimeSegError):
    """A model file is missing, not a model, or inconsistent with its spec."""


class ModelFetchError(ModelError):
    """The default model could not be fetched or verified (registry unreachable, bad hash, ...)."""


class SpecError(ModelError):
    """A model spec is incomplete or disagrees with the model graph."""


class BackendError(RealtimeSegError):
    """An inference backend failed to open or to run."""


class BackendUnavailable(BackendError):
    """A backend cannot run on this machine (library not installed, no GPU, ...)."""


class DriverTooOld(BackendUnavailable):
    """The NVIDIA driver is older than the CUDA version the installed bindings (cuda-python, TensorRT) need."""


class EngineCacheError(BackendError):
    """A cached TensorRT engine is stale, corrupt or built for another machine."""


class InputError(RealtimeSegError):
    """An input image, video or argument is missing or unusable."""

    exit_code = 2


class SettingsError(InputError):
    """A setting or option value is out of range or contradicts another (the one type for bad arguments;
    an unknown name is an :class:`UnknownNameError`)."""


class VideoError(InputError):
    """A video could not be decoded (corrupt, truncated, zero frames, ...)."""


class OutputError(RealtimeSegError):
    """An output cannot be written (folder missing, not writable, same as the input, ...)."""

    exit_code = 3


class CaptureError(RealtimeSegError):
    """A camera or live source failed to open."""


class CameraLost(CaptureError):
    """A camera that was streaming stopped delivering frames (unplugged, ...)."""


class VirtualCameraError(RealtimeSegError):
    """The virtual camera output cannot start (pyvirtualcam or the driver missing, device busy or absent, ...);
    the message says what to do. Subclasses in :mod:`realtime_seg.pipeline.vcam`."""


class UnknownNameError(RealtimeSegError, KeyError):
    """A name looked up in a registry does not exist; the message lists the valid names."""

    exit_code = 2

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.valid = tuple(valid)
        super().__init__(f"unknown {kind} {name!r}; valid names: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
