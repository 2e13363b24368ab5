"""Effect registry: ``create_effect(name, **options)``; an unknown name lists the valid ones."""

from __future__ import annotations

from typing import Any

from realtime_seg.effects.base import Effect
from realtime_seg.effects.basic import MaskEffect, NoEffect
from realtime_seg.effects.outline import OutlineEffect
from realtime_seg.errors import UnknownNameError

EFFECTS: dict[str, type[Effect]] = {
    NoEffect.name: NoEffect,
    MaskEffect.name: MaskEffect,
    OutlineEffect.name: OutlineEffect,
}


def effect_names() -> tuple[str, ...]:
    return tuple(EFFECTS)


def create_effect(name: str, **options: Any) -> Effect:
    try:
        cls = EFFECTS[name]
    except KeyError:
        raise UnknownNameError("effect", name, effect_names()) from None
    return cls(**options)


__all__ = ["EFFECTS", "Effect", "create_effect", "effect_names"]
