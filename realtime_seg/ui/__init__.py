"""The desktop app (PyQt6). The only package that imports Qt: capture and processing live in
:mod:`realtime_seg.capture` and :mod:`realtime_seg.pipeline` and run in plain Python threads; the
:class:`~realtime_seg.ui.bridge.PipelineBridge` hands their results to the GUI thread by a queued signal."""
