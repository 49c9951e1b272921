"""The event model: watch event → redacted event document with signals. Pure; no I/O."""

from kubetrail.events.changes import changed_paths
from kubetrail.events.model import DOCUMENT_FIELDS, ORIGINAL_FIELDS, WATCHER_USER, EventDocument
from kubetrail.events.normalize import NormalizeError, normalize
from kubetrail.events.redact import RedactionPolicy, RedactionRule, redact
from kubetrail.events.signals import derive_signals
from kubetrail.events.text import search_text
from kubetrail.events.timing import InvalidTime, format_rfc3339, parse_rfc3339

__all__ = [
    "DOCUMENT_FIELDS",
    "ORIGINAL_FIELDS",
    "WATCHER_USER",
    "EventDocument",
    "InvalidTime",
    "NormalizeError",
    "RedactionPolicy",
    "RedactionRule",
    "changed_paths",
    "derive_signals",
    "format_rfc3339",
    "normalize",
    "parse_rfc3339",
    "redact",
    "search_text",
]
