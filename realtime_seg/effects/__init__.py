"""Effect registry: ``create_effect(name, **options)``; an unknown name lists the valid ones.

Names join with ``+`` to stack effects (``"blur+outline"``: the second draws on the first's output).
Each option goes to every effect in the stack whose constructor takes it; an option none of them
takes is an error.
"""

from __future__ import annotations

import inspect
from typing import Any

from realtime_seg.effects.base import Effect
from realtime_seg.effects.basic import MaskEffect, NoEffect
from realtime_seg.effects.blur import BlurEffect
from realtime_seg.effects.compose import ComposeEffect
from realtime_seg.effects.outline import OutlineEffect
from realtime_seg.effects.overlay import OverlayEffect
from realtime_seg.effects.replace import ReplaceEffect
from realtime_seg.errors import UnknownNameError

EFFECTS: dict[str, type[Effect]] = {
    NoEffect.name: NoEffect,
    BlurEffect.name: BlurEffect,
    ReplaceEffect.name: ReplaceEffect,
    OverlayEffect.name: OverlayEffect,
    MaskEffect.name: MaskEffect,
    OutlineEffect.name: OutlineEffect,
}


def effect_names() -> tuple[str, ...]:
    return tuple(EFFECTS)


def _lookup(name: str) -> type[Effect]:
    try:
        return EFFECTS[name]
    except KeyError:
        raise UnknownNameError("effect", name, effect_names()) from None


def accepted_options(cls: type[Effect]) -> frozenset[str] | None:
    """The keyword options ``cls`` takes (``None``: any, it has ``**kwargs``)."""
    if cls.__init__ is object.__init__:
        return frozenset()
    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def split_effect_name(name: str) -> list[str]:
    """``"blur+outline"`` -> ``["blur", "outline"]``, each checked against the registry."""
    parts = [p.strip() for p in name.split("+")]
    for part in parts:
        _lookup(part)
    return parts


def create_effect(name: str, **options: Any) -> Effect:
    parts = split_effect_name(name)
    classes = [_lookup(p) for p in parts]
    if len(classes) == 1:
        return classes[0](**options)
    used: set[str] = set()
    effects: list[Effect] = []
    for cls in classes:
        accepted = accepted_options(cls)
        mine = dict(options) if accepted is None else {k: v for k, v in options.items() if k in accepted}
        used.update(mine)
        effects.append(cls(**mine))
    unused = sorted(set(options) - used)
    if unused:
        raise TypeError(f"effect {name!r} takes no option(s) {', '.join(unused)}")
    return ComposeEffect(effects)


__all__ = [
    "EFFECTS",
    "BlurEffect",
    "ComposeEffect",
    "Effect",
    "OutlineEffect",
    "OverlayEffect",
    "ReplaceEffect",
    "accepted_options",
    "create_effect",
    "effect_names",
    "split_effect_name",
]
