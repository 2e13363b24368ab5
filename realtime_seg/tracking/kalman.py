"""A constant-velocity Kalman filter for a region's centroid, in plain floats (it runs per track per frame).

The state per axis is (position, velocity); x and y are independent and share one 2x2 covariance, because
both axes see the same time steps and the same noise. Units: pixels and seconds.

- ``accel_noise``: standard deviation of the acceleration the model allows (px/s^2): how quickly a
  person may change speed. Larger follows turns sooner but smooths less.
- ``measurement_noise``: standard deviation of a centroid measurement (px): masks wobble at the edges.
"""

from __future__ import annotations

import math


class ConstantVelocity:
    """Position and velocity of a point moving at a constant velocity plus noise."""

    __slots__ = ("x", "y", "vx", "vy", "p00", "p01", "p11", "q", "r", "t")

    def __init__(
        self,
        xy: tuple[float, float],
        t: float,
        *,
        accel_noise: float = 400.0,
        measurement_noise: float = 4.0,
        initial_speed: float = 300.0,
    ) -> None:
        if not (accel_noise > 0 and measurement_noise > 0 and initial_speed > 0):
            raise ValueError(
                "accel_noise, measurement_noise and initial_speed must be > 0, got "
                f"{accel_noise}, {measurement_noise}, {initial_speed}"
            )
        self.x, self.y = float(xy[0]), float(xy[1])
        self.vx = self.vy = 0.0
        self.q = accel_noise * accel_noise
        self.r = measurement_noise * measurement_noise
        self.p00, self.p01, self.p11 = self.r, 0.0, initial_speed * initial_speed
        self.t = float(t)

    def predicted(self, t: float) -> tuple[float, float]:
        """Where the point is expected at time ``t`` (the state is not changed)."""
        dt = t - self.t
        if not (dt > 0 and math.isfinite(dt)):
            return (self.x, self.y)
        return (self.x + self.vx * dt, self.y + self.vy * dt)

    def position_sigma(self, t: float) -> float:
        """Standard deviation (px, per axis) of the position predicted for time ``t``."""
        dt = t - self.t
        if not (dt > 0 and math.isfinite(dt)):
            return math.sqrt(self.p00)
        dt2 = dt * dt
        return math.sqrt(self.p00 + 2 * dt * self.p01 + dt2 * self.p11 + self.q * dt2 * dt2 / 4)

    def predict(self, t: float) -> None:
        """Advance the state to time ``t`` (no-op for ``t`` at or before the state's time)."""
        dt = t - self.t
        if not (dt > 0 and math.isfinite(dt)):
            return
        dt2 = dt * dt
        q = self.q
        p00, p01, p11 = self.p00, self.p01, self.p11
        self.p00 = p00 + 2 * dt * p01 + dt2 * p11 + q * dt2 * dt2 / 4
        self.p01 = p01 + dt * p11 + q * dt2 * dt / 2
        self.p11 = p11 + q * dt2
        self.x += self.vx * dt
        self.y += self.vy * dt
        self.t = t

    def update(self, xy: tuple[float, float], t: float) -> None:
        """Predict to ``t``, then correct with a measured position."""
        self.predict(t)
        s = self.p00 + self.r
        k0, k1 = self.p00 / s, self.p01 / s
        ex, ey = xy[0] - self.x, xy[1] - self.y
        self.x += k0 * ex
        self.y += k0 * ey
        self.vx += k1 * ex
        self.vy += k1 * ey
        p00, p01, p11 = self.p00, self.p01, self.p11
        self.p00 = (1 - k0) * p00
        self.p01 = (1 - k0) * p01
        self.p11 = p11 - k1 * p01

    def jump(self, xy: tuple[float, float], t: float) -> None:
        """Move to a measured position without touching the velocity (after a merge, split or new part:
        the centroid jumps for reasons other than motion)."""
        self.predict(t)
        self.x, self.y = float(xy[0]), float(xy[1])
        self.p00, self.p01 = self.r, 0.0  # the position is known again, uncorrelated with the velocity

    def hold(self, t: float, box: tuple[int, int, int, int]) -> None:
        """Predict to ``t`` but stay inside ``box`` ``(x, y, w, h)``; an axis that hits the box stops moving
        (an occluded object is behind the region that hides it)."""
        self.predict(t)
        x0, y0, w, h = box
        if not x0 <= self.x <= x0 + w:
            self.x = min(max(self.x, x0), x0 + w)
            self.vx = 0.0
        if not y0 <= self.y <= y0 + h:
            self.y = min(max(self.y, y0), y0 + h)
            self.vy = 0.0

    @property
    def velocity(self) -> tuple[float, float]:
        return (self.vx, self.vy)
