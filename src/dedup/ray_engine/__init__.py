"""The Ray engine: `dedup scan --engine ray`, the same tables as the embedded runner.

Ray is an optional extra (`pip install 'dedup[ray]'`); importing this
package does not import Ray, and `scan_ray` says what to install when it is
missing. `runner` wires the stages, `stages` holds the map functions (Arrow
batch in, Arrow batch out, over the same core functions as the embedded
runner), `matching` the shuffles of block matching, `session` starting or
joining a cluster.
"""

from __future__ import annotations

from dedup.ray_engine.runner import scan_ray
from dedup.ray_engine.session import INSTALL, RaySettings

__all__ = ["INSTALL", "RaySettings", "scan_ray"]
