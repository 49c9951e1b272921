"""Diagnostics: the seven checks, written once against the Store protocol.

Each check is aggregation queries in the store (grouped by object and signal or
Event reason: count, first seen, last seen, newest document) plus bounded reads
for the few objects it reports; never "fetch N events and loop". The
catalogue (:mod:`~kubetrail.diagnostics.catalog`) names them, describes them
and turns a caller's arguments into :class:`CheckParams`.
"""

from __future__ import annotations

from kubetrail.diagnostics.catalog import (
    CHANGE_RANGES,
    CHECKS,
    CheckSpec,
    UnknownCheck,
    check_params,
    run_check,
)
from kubetrail.diagnostics.model import (
    CheckParams,
    Finding,
    InvalidParams,
    Report,
    TimeRange,
    format_window,
    parse_window,
)

__all__ = [
    "CHANGE_RANGES",
    "CHECKS",
    "CheckParams",
    "CheckSpec",
    "Finding",
    "InvalidParams",
    "Report",
    "TimeRange",
    "UnknownCheck",
    "check_params",
    "format_window",
    "parse_window",
    "run_check",
]
