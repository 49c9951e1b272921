"""What a container does when the kubelet starts it.

The scenario gives an image a behaviour (``sim.behaviour[image]``); the kubelet
(:mod:`kubetrail.demo.controllers.kubelet`) acts it out: a server that becomes
ready, a batch job that completes, a container that keeps crashing (or is
OOMKilled), an image that does not exist. Images with no behaviour run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Runs:
    """A healthy server: ready once its readiness probe passes."""

    ready_after: int = 7


@dataclass(frozen=True)
class Completes:
    """A batch container: runs, exits 0."""

    runtime: int = 50


@dataclass(frozen=True)
class Crashes:
    """A container that keeps dying: after ``runtime`` seconds (plus jitter)."""

    runtime: int
    exit_code: int
    reason: str
    message: str | None = None
    oom_process: str | None = None  # OOMKilled: the node logs a SystemOOM event
    jitter: int = 0


@dataclass(frozen=True)
class MissingImage:
    """The image reference does not exist in the registry."""


Behaviour = Runs | Completes | Crashes | MissingImage
