"""The timeline's marks as one compact JSON value, which the page carries in a data block
(``<script type="application/json">``: never run, so the Content-Security-Policy's
``script-src 'self'`` allows it) and ``static/timeline.js`` draws into the lanes.

A whole-cluster day is ~8,000 marks: as markup (each a link, a rectangle and a title)
that was a 2.7 MB page for the browser to parse; as this value it is a tenth of that.
What repeats is said once: the buckets (where a mark is drawn, and its time), the mark
kinds, and the texts of the counts (most marks of a busy cluster say the same few
things). A mark is ``[bucket, kind, text]`` (indexes into those lists), plus the
resourceVersion it opens the object's page at when it is one version.

The lanes come in page order (:attr:`Lane.index` = a lane's place in ``lanes``), each
with the URL of its object's page; a mark's link is that URL, ``#rv-<version>`` when it
has one (:func:`kubetrail.ui.links.object_url`).
"""

from __future__ import annotations

from typing import Any

from kubetrail.ui.timeline import SEVERITY, Timeline


def marks_data(view: Timeline) -> dict[str, Any]:
    """The value of the page's data block (plain JSON types)."""
    texts: dict[str, int] = {}
    lanes: list[dict[str, Any]] = []
    for lane in sorted((lane for g in view.groups for lane in g.lanes), key=lambda x: x.index):
        marks: list[list[int | str]] = []
        for m in lane.marks:
            row: list[int | str] = [
                m.bucket,
                SEVERITY.index(m.kind),
                texts.setdefault(m.counts, len(texts)),
            ]
            if m.version:
                row.append(m.version)
            marks.append(row)
        lanes.append({"url": lane.url, "marks": marks})
    return {
        "width": view.width,
        "kinds": list(SEVERITY),
        "buckets": [[c.x, c.width, c.label] for c in view.columns],
        "texts": list(texts),
        "lanes": lanes,
    }
