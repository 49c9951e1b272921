"""The built-in demo incident: a simulated cluster's watch recording.

:mod:`kubetrail.demo.incident` tells the story (and is the place to read first);
:mod:`.simulation`, :mod:`.objects` and :mod:`.controllers` are the machinery that
makes every object in the recording consistent with the others.
"""

from kubetrail.demo.incident import DEMO_SECRET_CANARY, generate_incident

__all__ = ["DEMO_SECRET_CANARY", "generate_incident"]
