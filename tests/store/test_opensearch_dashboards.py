"""OpenSearch Dashboards saved objects: what the templates render, and importing them.

- the ndjson: every line parses, every reference resolves inside the file, every field a
  visualization or saved search uses is an aggregatable field of the right type in the
  rendered index template mappings, ids are stable, versions are valid for Dashboards 2.x;
- the import: against a small fake Dashboards on a real loopback socket (it checks the
  ``osd-xsrf`` header and the multipart upload and answers like Dashboards does), and
  against a real Dashboards when ``OPENSEARCH_DASHBOARDS_URL`` is set;
- ``kubetrail setup --dashboards-url``: against osmem-server plus the fake Dashboards;
- every visualization's nested bucket sizes against ``search.max_buckets``;
- on a real OpenSearch node: two installs (``<p>`` upgraded from the old templates and
  ``<p>-dev``) set up side by side, each writes and reads its own events only, empty fields
  are left out of the index but not out of the documents read back, and every saved
  object's fields are in the real mappings while every visualization's request, derived
  from its saved object as Dashboards builds it, runs on their data and fills its columns.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kubetrail.events.model import EventDocument
from kubetrail.ingest.documents import to_documents
from kubetrail.store.base import AggregateQuery, EventFilter, EventQuery
from kubetrail.store.opensearch import OpenSearchStore, dashboards, queries
from kubetrail.store.opensearch.dashboards import (
    DashboardsError,
    DashboardsImportError,
    DashboardsUnreachable,
    import_saved_objects,
    render_objects,
    render_saved_objects,
)
from kubetrail.store.opensearch.queries import OMITTED_WHEN_EMPTY, index_body
from kubetrail.store.opensearch.setup import setup
from kubetrail.store.opensearch.templates import TemplateParams, render_all
from tests.support.incident import ANCHOR
from tests.support.opensearch_servers import delete_indices
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
_prefixes = itertools.count(1)

#: The newest migration of each type in OpenSearch Dashboards 2.x, read off its sources
#: (src/plugins/{data,discover,visualizations,dashboard}/server/saved_objects/*_migrations.ts).
OSD2_MIGRATIONS = {
    "index-pattern": "7.6.0",
    "search": "7.9.3",
    "visualization": "7.10.0",
    "dashboard": "7.9.3",
}

#: Attributes each type's saved-object mapping accepts in Dashboards 2.x (its .kibana index is
#: ``dynamic: strict``: anything else fails the write). index-pattern is ``dynamic: false``.
OSD2_ATTRIBUTES = {
    "index-pattern": {
        "title",
        "timeFieldName",
        "fields",
        "fieldFormatMap",
        "sourceFilters",
        "intervalName",
        "notExpandable",
        "type",
        "typeMeta",
    },
    "search": {
        "title",
        "description",
        "hits",
        "columns",
        "sort",
        "version",
        "kibanaSavedObjectMeta",
        "columnWidths",
    },
    "visualization": {
        "title",
        "description",
        "visState",
        "uiStateJSON",
        "version",
        "kibanaSavedObjectMeta",
        "savedSearchRefName",
    },
    "dashboard": {
        "title",
        "description",
        "hits",
        "panelsJSON",
        "optionsJSON",
        "version",
        "timeRestore",
        "timeFrom",
        "timeTo",
        "refreshInterval",
        "kibanaSavedObjectMeta",
    },
}

EXPECTED_IDS = [
    "kubetrail-events-index-pattern",
    "kubetrail-events-search-warnings",
    "kubetrail-events-search-changes",
    "kubetrail-events-search-pod-failures",
    "kubetrail-events-search-node-events",
    "kubetrail-events-search-object-history",
    "kubetrail-events-vis-events-by-verb",
    "kubetrail-events-vis-warnings-by-reason",
    "kubetrail-events-vis-warning-namespaces",
    "kubetrail-events-vis-pod-signals",
    "kubetrail-events-vis-node-conditions",
    "kubetrail-events-vis-workload-changes",
    "kubetrail-events-vis-pvc-problems",
    "kubetrail-events-vis-triage-help",
    "kubetrail-events-triage",
]


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    text = data.decode("utf-8")
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert all(line.strip() for line in lines), "blank line in the ndjson"
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def ndjson() -> bytes:
    return render_saved_objects()


@pytest.fixture(scope="module")
def objects(ndjson: bytes) -> list[dict[str, Any]]:
    return parse_lines(ndjson)


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def vis_state(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["visState"])


# -- the file ---------------------------------------------------------------------------


def test_every_line_parses_into_a_saved_object(objects: list[dict[str, Any]]) -> None:
    assert len(objects) == 15
    for obj in objects:
        assert set(obj) == {"id", "type", "attributes", "references", "migrationVersion"}
        assert isinstance(obj["attributes"], dict)
        assert obj["attributes"]["title"]
        assert isinstance(obj["references"], list)
    assert [o["type"] for o in objects].count("dashboard") == 1
    assert objects[0]["type"] == "index-pattern"


def test_string_attributes_are_json_strings(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        attrs = obj["attributes"]
        for key in ("visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fields"):
            if key in attrs:
                assert isinstance(attrs[key], str), (obj["id"], key)
                json.loads(attrs[key])
        if "kibanaSavedObjectMeta" in attrs:
            assert isinstance(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"], str)
            search_source(obj)
        if obj["type"] == "visualization":
            assert vis_state(obj)["title"] == attrs["title"]


def test_every_reference_resolves_to_an_object_in_the_file(
    objects: list[dict[str, Any]],
) -> None:
    present = {(o["type"], o["id"]) for o in objects}
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids))
    for obj in objects:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, (obj["id"], ref)
        used: set[str] = set()
        attrs = obj["attributes"]
        if "kibanaSavedObjectMeta" in attrs:
            source = search_source(obj)
            assert "index" not in source  # an id inline instead of a reference
            if "indexRefName" in source:
                used.add(source["indexRefName"])
            for flt in source.get("filter", []):
                used.add(flt["meta"]["indexRefName"])
        for panel in json.loads(attrs.get("panelsJSON", "[]")):
            assert "id" not in panel and "type" not in panel  # pre-7.0 style
            used.add(panel["panelRefName"])
        refs = {r["name"]: r for r in obj["references"]}
        assert used == set(refs), obj["id"]  # every name used resolves, none is dangling
        for name in used:
            if "searchSourceJSON" in name:
                assert refs[name]["type"] == "index-pattern"
    # the markdown panel links to the saved searches by id
    help_vis = by_id(objects)["kubetrail-events-vis-triage-help"]
    linked = re.findall(r"discover#/view/([\w.-]+)", vis_state(help_vis)["params"]["markdown"])
    assert len(linked) == 5
    for target in linked:
        assert ("search", target) in present


def test_every_template_file_is_rendered() -> None:
    files = resources.files("kubetrail.store.opensearch").joinpath("saved_objects")
    names = sorted(
        p.name.removesuffix(".json.j2") for p in files.iterdir() if p.name.endswith(".j2")
    )
    assert names == sorted(dashboards.OBJECTS)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]["kubetrail.store.opensearch"]
    assert "saved_objects/*.j2" in package_data


# -- fields against the index template ----------------------------------------------------

AGGREGATABLE = {"keyword", "date", "date_nanos", "long", "integer", "short", "byte", "boolean"}
ROLE_TYPES = {
    "time": {"date", "date_nanos"},
    "terms": {"keyword", "long", "integer", "boolean"},
    "metric": {"date", "long", "integer"},  # min/max: first/last seen
    "query": AGGREGATABLE,
    "column": AGGREGATABLE,
    "sort": AGGREGATABLE,
}


def mapped_fields() -> dict[str, str]:
    """Dotted field -> type, from the rendered component template; disabled objects are
    ``disabled`` and plain object containers ``object``."""
    props = render_all()["component-mappings"]["template"]["mappings"]["properties"]
    out: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            if spec.get("enabled") is False:
                out[path] = "disabled"
                continue
            out[path] = spec.get("type", "object")
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")
            for sub, sub_spec in (spec.get("fields") or {}).items():
                out[f"{path}.{sub}"] = sub_spec["type"]

    walk(props, "")
    return out


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_KQL_FIELD = re.compile(r"([A-Za-z_@][\w.@]*)\s*:\s*(\([^)]*\)|[^\s()]+)")


def kql_fields(query: str) -> list[tuple[str, str]]:
    """``(field, value)`` pairs of a KQL query (quoted strings removed first)."""
    return _KQL_FIELD.findall(_QUOTED.sub('""', query))


def fields_used(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(field, role, value)`` for everything an object reads from the index."""
    used: list[tuple[str, str, str]] = []

    def query(q: dict[str, Any]) -> None:
        assert q["language"] == "kuery"
        pairs = kql_fields(q["query"])
        assert pairs or not q["query"].strip(), f"no field found in {q['query']!r}"
        used.extend((f, "query", v) for f, v in pairs)

    attrs = obj["attributes"]
    if obj["type"] == "index-pattern":
        used.append((attrs["timeFieldName"], "time", ""))
    if "kibanaSavedObjectMeta" in attrs:
        source = search_source(obj)
        query(source["query"])
        for flt in source.get("filter", []):
            used.append((flt["meta"]["key"], "query", ""))
    if obj["type"] == "search":
        used.extend((c, "column", "") for c in attrs["columns"])
        used.extend((s[0], "sort", "") for s in attrs["sort"])
    if obj["type"] == "visualization":
        for agg in vis_state(obj)["aggs"]:
            kind, params = agg["type"], agg["params"]
            if kind == "count":
                continue
            if kind == "terms":
                used.append((params["field"], "terms", ""))
            elif kind == "date_histogram":
                used.append((params["field"], "time", ""))
            elif kind in ("min", "max"):
                used.append((params["field"], "metric", ""))
            elif kind == "filters":
                for f in params["filters"]:
                    query(f["input"])
            else:
                pytest.fail(f"{obj['id']}: teach this test which fields a {kind} agg reads")
    return used


def test_every_field_used_is_aggregatable_and_of_the_right_type(
    objects: list[dict[str, Any]],
) -> None:
    mapped = mapped_fields()
    # the test's own walk of the mappings sees text and disabled fields for what they are
    assert mapped["message"] == "text" and mapped["objectChanges"] == "disabled"
    seen = set()
    for obj in objects:
        for name, role, value in fields_used(obj):
            seen.add(name)
            kind = mapped.get(name)
            assert kind is not None, f"{obj['id']}: {name} is not in the index mappings"
            assert kind in ROLE_TYPES[role], (
                f"{obj['id']}: {name} is {kind}, not usable as {role} ({sorted(ROLE_TYPES[role])})"
            )
            if value in ("true", "false"):
                assert kind == "boolean", f"{obj['id']}: {name}:{value} on a {kind} field"
    # the fields the triage questions need are all in use
    assert {
        "timestamp",
        "verb",
        "reason",
        "eventType",
        "namespace",
        "resourceName",
        "signals",
        "resourceType",
        "snapshot",
        "fieldManager",
        "kind",
    } <= seen


def test_kql_field_extraction() -> None:
    assert kql_fields('snapshot:false and verb:(create or update) and not x.y:"a: b"') == [
        ("snapshot", "false"),
        ("verb", "(create or update)"),
        ("x.y", '""'),
    ]
    assert kql_fields("(resourceType:nodes and signals:node.*) or involvedObject.kind:Node") == [
        ("resourceType", "nodes"),
        ("signals", "node.*"),
        ("involvedObject.kind", "Node"),
    ]


# -- content ------------------------------------------------------------------------------


def test_dashboard_and_saved_searches_are_there(objects: list[dict[str, Any]]) -> None:
    ids = by_id(objects)
    dash = ids["kubetrail-events-triage"]
    assert dash["attributes"]["title"] == "Kubernetes incident triage"
    assert dash["attributes"]["timeRestore"] is True
    panels = {r["id"] for r in dash["references"]}
    visualizations = {o["id"] for o in objects if o["type"] == "visualization"}
    assert visualizations <= panels  # every visualization is on the dashboard
    searches = {o["attributes"]["title"] for o in objects if o["type"] == "search"}
    assert searches == {"Warnings", "Changes", "Pod failures", "Node events", "Object history"}
    pattern = ids["kubetrail-events-index-pattern"]["attributes"]
    assert pattern["title"] == "kubetrail-events-0*" and pattern["timeFieldName"] == "timestamp"
    history = next(o for o in objects if o["attributes"]["title"] == "Object history")
    assert {"verb", "resourceVersion", "fieldManager"} <= set(history["attributes"]["columns"])


@dataclass
class Panel:
    vis_type: str
    query_parts: tuple[str, ...]
    terms: tuple[str, ...]
    date_histogram: bool = False


TRIAGE_PANELS = {
    "Events over time by verb": Panel("histogram", ("snapshot:false",), ("verb",), True),
    "Warning Events by reason": Panel("horizontal_bar", ("eventType:Warning",), ("reason",)),
    "Namespaces with most warnings": Panel(
        "horizontal_bar", ("eventType:Warning",), ("namespace",)
    ),
    "Pods with issue signals": Panel(
        "table", ("resourceType:pods", "signals:pod.*"), ("namespace", "resourceName", "signals")
    ),
    "Node condition changes": Panel("table", ("signals:node.*",), ("resourceName", "signals")),
    "Recent changes of workloads, ConfigMaps, Secrets, NetworkPolicies": Panel(
        "table",
        (
            "snapshot:false",
            "verb:(create or update or delete)",
            "ConfigMap",
            "Secret",
            "NetworkPolicy",
            "Deployment",
        ),
        ("fieldManager", "kind", "namespace", "resourceName"),
    ),
    "PVC problems": Panel(
        "table",
        ("eventType:Warning", "involvedObject.kind:PersistentVolumeClaim", "FailedMount"),
        ("namespace", "involvedObject.name", "reason"),
    ),
}


def test_visualizations_answer_the_triage_questions(objects: list[dict[str, Any]]) -> None:
    vis = {o["attributes"]["title"]: o for o in objects if o["type"] == "visualization"}
    assert set(TRIAGE_PANELS) <= set(vis)
    for title, want in TRIAGE_PANELS.items():
        state = vis_state(vis[title])
        assert state["type"] == want.vis_type, title
        q = search_source(vis[title])["query"]["query"]
        for part in want.query_parts:
            assert part in q, (title, part)
        terms = [a["params"]["field"] for a in state["aggs"] if a["type"] == "terms"]
        assert list(want.terms) == terms[: len(want.terms)], title
        histograms = [a for a in state["aggs"] if a["type"] == "date_histogram"]
        assert bool(histograms) == want.date_histogram, title
    labels = {
        a["params"].get("customLabel") for a in vis_state(vis["Pods with issue signals"])["aggs"]
    }
    assert {"namespace", "pod", "signal", "count", "last seen"} <= labels


#: OpenSearch's default ``search.max_buckets``: a response with more buckets fails with
#: ``too_many_buckets_exception`` (and the panel with it).
MAX_BUCKETS = 65_535
#: Dashboards' ``histogram:maxBars`` default: an ``auto`` date histogram never has more bars.
MAX_BARS = 100


def bucket_levels(state: dict[str, Any]) -> list[int]:
    """The most buckets each bucket agg of a visualization can make, outermost first, the
    way Dashboards nests them (each level inside the previous one)."""
    levels = []
    for agg in state["aggs"]:
        if agg.get("schema") == "metric" or not agg.get("enabled", True):
            continue
        params = agg["params"]
        if agg["type"] == "terms":
            # a missing bucket is a term of the top `size` (``missing``), the other bucket one more
            levels.append(params["size"] + (1 if params.get("otherBucket") else 0))
        elif agg["type"] == "filters":
            levels.append(len(params["filters"]))
        elif agg["type"] == "date_histogram":
            levels.append(MAX_BARS)
        else:
            pytest.fail(f"teach this test how many buckets a {agg['type']} agg makes")
    return levels


def test_every_visualization_stays_under_max_buckets(objects: list[dict[str, Any]]) -> None:
    """The product of the nested sizes is the most rows a panel can have; every level's
    buckets count too (1 + n1 + n1*n2 + ...), and both stay well under search.max_buckets."""
    worst = {}
    for obj in objects:
        if obj["type"] != "visualization":
            continue
        levels = bucket_levels(vis_state(obj))
        product, total = 1, 0
        for size in levels:
            product *= size
            total += product
        worst[obj["id"]] = (product, total)
        assert product < MAX_BUCKETS, (obj["id"], levels, product)
        assert total < MAX_BUCKETS // 2, (obj["id"], levels, total)  # room to spare
    assert worst["kubetrail-events-vis-workload-changes"][0] == 10 * 7 * 10 * 10 * 3
    assert len(worst) == 8  # every visualization was looked at


def test_bar_charts_name_what_they_count(objects: list[dict[str, Any]]) -> None:
    """Dashboards takes a saved chart's ``params`` over its defaults key by key, so a chart
    without ``valueAxes``/``seriesParams`` gets the default "Count" axis title and series."""
    charts = 0
    for obj in objects:
        if obj["type"] != "visualization":
            continue
        state = vis_state(obj)
        if state["type"] not in ("histogram", "horizontal_bar", "line", "area"):
            continue
        charts += 1
        (count,) = [a for a in state["aggs"] if a["type"] == "count"]
        label = count["params"]["customLabel"]
        assert label and label != "Count", obj["id"]
        params = state["params"]
        axis = params["valueAxes"][0]
        assert axis["title"]["text"] == label, obj["id"]
        (series,) = params["seriesParams"]
        assert series["data"] == {"label": label, "id": count["id"]}, obj["id"]
        assert series["valueAxis"] == axis["id"], obj["id"]
        assert params["categoryAxes"][0]["id"] == "CategoryAxis-1"
    assert charts == 3


def test_missing_buckets_are_on_fields_the_index_leaves_out_when_empty(
    objects: list[dict[str, Any]],
) -> None:
    """A missing bucket only ever shows documents *without* the field: an indexed ""
    is a term like any other. The store leaves exactly these fields out when empty."""
    with_missing = [
        (obj["id"], agg["params"]["field"])
        for obj in objects
        if obj["type"] == "visualization"
        for agg in vis_state(obj)["aggs"]
        if agg["type"] == "terms" and agg["params"].get("missingBucket")
    ]
    assert ("kubetrail-events-vis-workload-changes", "fieldManager") in with_missing
    for ident, name in with_missing:
        assert name in OMITTED_WHEN_EMPTY, (ident, name)
    body = index_body(
        {
            "timestamp": "2026-11-25T12:00:00Z",
            "namespace": "",
            "fieldManager": "",
            "message": "Update nodes worker-3",
            "objectChanges": {},
            "involvedObject": {"kind": "Node", "namespace": "", "name": "worker-3", "uid": ""},
        }
    )
    assert "namespace" not in body and "fieldManager" not in body
    assert body["involvedObject"] == {"kind": "Node", "name": "worker-3", "uid": ""}


# -- ids and versions -------------------------------------------------------------------


def test_ids_are_stable_across_renders(ndjson: bytes, objects: list[dict[str, Any]]) -> None:
    assert render_saved_objects() == ndjson  # byte for byte: no timestamps, no random ids
    assert [o["id"] for o in objects] == EXPECTED_IDS


def test_another_prefix_gets_its_own_ids_and_titles() -> None:
    other = parse_lines(render_saved_objects("staging-events"))
    assert all(o["id"].startswith("staging-events-") for o in other)
    assert {r["id"] for o in other for r in o["references"]} <= {o["id"] for o in other}
    titles = {o["type"]: o["attributes"]["title"] for o in other}
    assert titles["index-pattern"] == "staging-events-0*"
    assert titles["dashboard"] == "Kubernetes incident triage (staging-events)"
    pattern = parse_lines(render_saved_objects(index_pattern="kubetrail-events-*"))[0]
    assert pattern["attributes"]["title"] == "kubetrail-events-*"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefix": "Bad"}, "is not a valid index name prefix"),
        ({"index_pattern": "a b"}, "index pattern 'a b' is not valid"),
        ({"time_field": "message"}, "time field 'message' is not a date field"),
        ({"time_field": "nope"}, "time field 'nope' is not a date field"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render_objects(**kwargs)


def test_versions_are_valid_for_dashboards_2(objects: list[dict[str, Any]]) -> None:
    assert dashboards.MIGRATION_VERSIONS == OSD2_MIGRATIONS
    for obj in objects:
        # exactly the newest migration: no migration runs on import, none is "too new"
        assert obj["migrationVersion"] == {obj["type"]: OSD2_MIGRATIONS[obj["type"]]}
        # Kibana 7.12+/8.x fields OpenSearch Dashboards does not have
        assert not {"coreMigrationVersion", "typeMigrationVersion", "managed"} & set(obj)
        extra = set(obj["attributes"]) - OSD2_ATTRIBUTES[obj["type"]]
        assert not extra, f"{obj['id']}: attributes Dashboards 2.x would refuse: {extra}"
        if obj["type"] == "dashboard":
            for panel in json.loads(obj["attributes"]["panelsJSON"]):
                assert re.fullmatch(r"2\.\d+\.\d+", panel["version"]), panel
                assert set(panel["gridData"]) == {"x", "y", "w", "h", "i"}
                assert panel["gridData"]["x"] + panel["gridData"]["w"] <= 48
                assert panel["gridData"]["i"] == panel["panelIndex"]


# -- a fake Dashboards on a real socket ----------------------------------------------------


@dataclass
class FakeDashboards:
    """Answers ``POST /api/saved_objects/_import`` like OpenSearch Dashboards 2.x."""

    #: id -> error entry to answer for it (``success: false``)
    fail: dict[str, dict[str, Any]] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    stored: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, Any]:
        parts = urlsplit(handler.path)
        if handler.command != "POST" or parts.path != "/api/saved_objects/_import":
            return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
        if self.basic_auth:
            token = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            if handler.headers.get("authorization") != f"Basic {token}":
                return 401, {
                    "statusCode": 401,
                    "error": "Unauthorized",
                    "message": "Authentication required",
                }
        if handler.headers.get("osd-xsrf") is None:
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "Request must contain a osd-xsrf header.",
            }
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        ctype = handler.headers.get("content-type", "")
        message = BytesParser(policy=policy.HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body
        )
        if not message.is_multipart():
            return 415, {"statusCode": 415, "error": "Unsupported Media Type", "message": ctype}
        files = [
            p
            for p in message.iter_parts()
            if p.get_param("name", header="content-disposition") == "file"
        ]
        if len(files) != 1:
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "[request body.file]: expected value of type [Stream]",
            }
        part = files[0]
        filename = part.get_filename() or ""
        if not filename.endswith(".ndjson"):
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": f"Invalid file extension {Path(filename).suffix}",
            }
        payload = part.get_payload(decode=True)
        objects = [json.loads(line) for line in payload.decode().splitlines() if line.strip()]
        overwrite = parse_qs(parts.query).get("overwrite") == ["true"]
        self.requests.append(
            {
                "headers": {k.lower(): v for k, v in handler.headers.items()},
                "query": parse_qs(parts.query),
                "filename": filename,
                "payload": payload,
                "objects": objects,
            }
        )
        present = {(o["type"], o["id"]) for o in objects} | set(self.stored)
        errors, results = [], []
        for obj in objects:
            title = obj["attributes"].get("title")
            base = {"id": obj["id"], "type": obj["type"], "title": title, "meta": {"title": title}}
            missing = [
                {"type": r["type"], "id": r["id"]}
                for r in obj["references"]
                if (r["type"], r["id"]) not in present
            ]
            if obj["id"] in self.fail:
                errors.append({**base, "error": self.fail[obj["id"]]})
            elif missing:
                errors.append(
                    {**base, "error": {"type": "missing_references", "references": missing}}
                )
            elif (obj["type"], obj["id"]) in self.stored and not overwrite:
                errors.append({**base, "error": {"type": "conflict"}})
            else:
                existed = (obj["type"], obj["id"]) in self.stored
                self.stored[(obj["type"], obj["id"])] = obj
                results.append(
                    {
                        "type": obj["type"],
                        "id": obj["id"],
                        "meta": {"title": title},
                        **({"overwrite": True} if existed else {}),
                    }
                )
        out: dict[str, Any] = {"successCount": len(results), "success": not errors}
        if results:
            out["successResults"] = results
        if errors:
            out["errors"] = errors
        return 200, out


@contextmanager
def running_fake(fake: FakeDashboards) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, body = fake.answer(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_fake_dashboards_insists_on_the_xsrf_header() -> None:
    with running_fake(FakeDashboards()) as url:
        files = {"file": ("x.ndjson", b"{}\n", "application/ndjson")}
        answer = httpx.post(f"{url}/api/saved_objects/_import", files=files)
    assert answer.status_code == 400
    assert "osd-xsrf" in answer.json()["message"]


def test_import_sends_the_file_and_reports_each_object(ndjson: bytes) -> None:
    fake = FakeDashboards(basic_auth=("admin", "s3cret"))
    with running_fake(fake) as url:
        lines = import_saved_objects(
            url.replace("http://", "http://admin:s3cret@") + "/",
            ndjson,
            tenant="global",
        )
        again = import_saved_objects(url, ndjson, auth=("admin", "s3cret"))
    request = fake.requests[0]
    assert request["headers"]["osd-xsrf"] == "true"
    assert request["headers"]["securitytenant"] == "global"
    assert request["query"] == {"overwrite": ["true"]}
    assert request["filename"].endswith(".ndjson")
    assert request["payload"] == ndjson
    assert "securitytenant" not in fake.requests[1]["headers"]
    assert len(lines) == 16
    assert (
        'saved object dashboard kubetrail-events-triage "Kubernetes incident triage": imported'
        in lines
    )
    assert lines[-1] == f"dashboards: imported 15 saved objects into {url} (tenant global)"
    assert not any("s3cret" in line for line in lines)
    # the second import replaces the same ids: nothing new, nothing duplicated
    assert len(fake.stored) == 15
    assert again[0].endswith(": imported (replaced the existing one)")


def test_import_errors_name_each_failing_object(ndjson: bytes) -> None:
    fake = FakeDashboards(
        fail={
            "kubetrail-events-vis-pod-signals": {
                "type": "unknown",
                "message": "strict_dynamic_mapping_exception",
                "statusCode": 400,
            }
        }
    )
    broken = ndjson.replace(
        b'"id":"kubetrail-events-index-pattern"}', b'"id":"gone-index-pattern"}', 1
    )
    with running_fake(fake) as url, pytest.raises(DashboardsImportError) as caught:
        import_saved_objects(url, broken)
    err = caught.value
    assert err.errors == [
        'search kubetrail-events-search-warnings "Warnings": missing references: '
        "index-pattern gone-index-pattern",
        'visualization kubetrail-events-vis-pod-signals "Pods with issue signals": '
        "strict_dynamic_mapping_exception (400)",
    ]
    assert str(err).startswith(
        f"OpenSearch Dashboards at {url} did not import 2 of 15 saved objects: search "
    )
    assert "\n" not in str(err)


def test_refusals_and_wrong_urls_are_one_line(ndjson: bytes) -> None:
    with running_fake(FakeDashboards(basic_auth=("admin", "right"))) as url:
        with pytest.raises(
            DashboardsError,
            match=r"refused the import: 401 Authentication "
            r"required \(check the credentials and the tenant\)",
        ):
            import_saved_objects(url, ndjson, auth=("admin", "wrong"), tenant="global")
        with pytest.raises(DashboardsError, match=r"404.*base path in the URL"):
            import_saved_objects(f"{url}/dashboards", ndjson, auth=("admin", "right"))
    for bad in ("localhost:5601", "ftp://host", "http://host:5601/?x=1"):
        with pytest.raises(ValueError, match="Dashboards URL"):
            import_saved_objects(bad, ndjson)


def test_something_else_answering_is_not_taken_for_dashboards(ndjson: bytes) -> None:
    class Html(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(DashboardsError, match="did not answer like OpenSearch Dashboards"):
            import_saved_objects(url, ndjson)
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_dashboards_is_one_line_without_credentials(ndjson: bytes) -> None:
    port = free_port()
    with pytest.raises(DashboardsUnreachable) as caught:
        import_saved_objects(f"http://admin:hunter2@127.0.0.1:{port}", ndjson, timeout=5)
    message = str(caught.value)
    assert message == (
        f"cannot reach OpenSearch Dashboards at http://127.0.0.1:{port}: Connection refused"
    )


# -- a real Dashboards --------------------------------------------------------------------

HOW_TO_RUN_REAL = (
    "no real OpenSearch Dashboards: set OPENSEARCH_DASHBOARDS_URL=http://127.0.0.1:5601 "
    "(user:password@ in it if the security plugin is on; OPENSEARCH_DASHBOARDS_TENANT for a "
    "tenant) to a disposable Dashboards 2.x, e.g. `docker run -p 5601:5601 -e "
    "OPENSEARCH_HOSTS='[\"http://opensearch:9200\"]' -e DISABLE_SECURITY_DASHBOARDS_PLUGIN=true "
    "opensearchproject/opensearch-dashboards:2.19.1` next to an OpenSearch"
)


def test_import_into_a_real_dashboards(ndjson: bytes) -> None:
    url = os.environ.get("OPENSEARCH_DASHBOARDS_URL")
    if not url:
        pytest.skip(HOW_TO_RUN_REAL)
    tenant = os.environ.get("OPENSEARCH_DASHBOARDS_TENANT") or None
    lines = import_saved_objects(url, ndjson, tenant=tenant)
    assert lines[-1].startswith("dashboards: imported 15 saved objects")
    # a second import overwrites the same ids
    assert import_saved_objects(url, ndjson, tenant=tenant)[-1] == lines[-1]
    parts = urlsplit(url)
    auth = (parts.username, parts.password or "") if parts.username else None
    base = dashboards.redact_url(url).rstrip("/")
    headers = {"osd-xsrf": "true", **({"securitytenant": tenant} if tenant else {})}
    answer = httpx.get(
        f"{base}/api/saved_objects/dashboard/kubetrail-events-triage", auth=auth, headers=headers
    )
    assert answer.status_code == 200, answer.text
    saved = answer.json()
    assert saved["attributes"]["title"] == "Kubernetes incident triage"
    assert saved["migrationVersion"] == {"dashboard": OSD2_MIGRATIONS["dashboard"]}


# -- kubetrail setup --dashboards-url ---------------------------------------------------


def kubetrail(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBETRAIL_")}
    return subprocess.run(
        [sys.executable, "-m", "kubetrail", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def prefix() -> str:
    return f"dash{next(_prefixes)}-{os.getpid()}"


def test_cli_setup_imports_the_dashboards(osmem_url: str) -> None:
    p = prefix()
    fake = FakeDashboards(basic_auth=("admin", "s3cret"))
    store = "opensearch+" + osmem_url.replace("http://", "http://admin:s3cret@")
    with running_fake(fake) as url:
        proc = kubetrail(
            "setup",
            "--store",
            store,
            "--prefix",
            p,
            "--dashboards-url",
            url,
            "--dashboards-tenant",
            "global",
        )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert f"index template {p}: created (retention: fallback)" in out
    assert f"dashboards: imported 15 saved objects into {url} (tenant global)" in out
    assert out[-1] == f"dashboard: {url}/app/dashboards#/view/{p}-triage"
    assert "s3cret" not in proc.stdout + proc.stderr
    (request,) = fake.requests  # the store's credentials were used for Dashboards
    assert request["headers"]["securitytenant"] == "global"
    titles = {o["attributes"]["title"] for o in request["objects"]}
    assert f"{p}-0*" in titles and f"Kubernetes incident triage ({p})" in titles
    assert all(o["id"].startswith(f"{p}-") for o in request["objects"])


def test_cli_dry_run_says_what_it_would_import(osmem_url: str) -> None:
    p = prefix()
    fake = FakeDashboards()
    with running_fake(fake) as url:
        proc = kubetrail(
            "setup",
            "--store",
            "opensearch+" + osmem_url,
            "--prefix",
            p,
            "--dry-run",
            "--dashboards-url",
            url,
        )
    assert proc.returncode == 0, proc.stderr
    assert fake.requests == []
    out = proc.stdout.splitlines()
    assert f"dashboards: would import 15 saved objects into {url}" in out
    assert f'  would import: dashboard {p}-triage "Kubernetes incident triage ({p})"' in out
    assert f"  would send: POST {url}/api/saved_objects/_import?overwrite=true" in out


def test_cli_unreachable_dashboards_is_one_line_exit_2(osmem_url: str) -> None:
    port = free_port()
    proc = kubetrail(
        "setup",
        "--store",
        "opensearch+" + osmem_url,
        "--prefix",
        prefix(),
        "--dashboards-url",
        f"http://127.0.0.1:{port}",
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "kubetrail: error: cannot reach OpenSearch Dashboards at "
        f"http://127.0.0.1:{port}: Connection refused"
    ]


def test_cli_import_errors_exit_2_naming_the_objects(osmem_url: str) -> None:
    p = prefix()
    fake = FakeDashboards(fail={f"{p}-triage": {"type": "conflict"}})
    with running_fake(fake) as url:
        proc = kubetrail(
            "setup", "--store", "opensearch+" + osmem_url, "--prefix", p, "--dashboards-url", url
        )
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line == (
        f"kubetrail: error: OpenSearch Dashboards at {url} did not import 1 of 15 saved "
        f'objects: dashboard {p}-triage "Kubernetes incident triage ({p})": conflict: an '
        "object with this id exists and was not overwritten"
    )


def test_cli_bad_dashboards_url_stops_before_writing(osmem_url: str) -> None:
    p = prefix()
    proc = kubetrail(
        "setup",
        "--store",
        "opensearch+" + osmem_url,
        "--prefix",
        p,
        "--dashboards-url",
        "localhost:5601",
    )
    assert proc.returncode == 2
    assert proc.stdout == ""  # nothing was applied to OpenSearch
    assert "must look like http(s)://host:5601" in proc.stderr
    proc = kubetrail("setup", "--store", "opensearch+" + osmem_url, "--dashboards-tenant", "x")
    assert proc.returncode == 2
    assert "--dashboards-tenant needs --dashboards-url" in proc.stderr


# -- two installs on one real OpenSearch, and every panel's query on their data ------------
#
# The Dashboards app cannot run here, but what it sends can: each visualization's request is
# derived from its saved object the way Dashboards 2.x builds it (KQL -> query DSL, the time
# range as a filter, bucket aggs nested in order, the metrics at the deepest level and beside
# a terms agg that orders by them, a missing bucket as ``missing: "__missing__"``) and sent to
# the index pattern's title on a real node holding two installs' events.

MISSING = "__missing__"  # what Dashboards' terms agg puts in ``missing`` for a missing bucket
_KQL_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+)')


def kql_to_dsl(query: str) -> dict[str, Any]:
    """KQL as Dashboards translates it: ``f:v`` -> ``match`` (a wildcard value ->
    ``query_string`` on the field), ``f:(a or b)``, ``and`` -> ``filter``, ``or`` ->
    ``should``, ``not`` -> ``must_not``; an empty query matches everything."""
    tokens = [t for t in _KQL_TOKEN.findall(query) if t]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def is_query(fld: str, value: str) -> dict[str, Any]:
        value = value.strip('"')
        if "*" in value:
            return {"query_string": {"fields": [fld], "query": value}}
        return {"bool": {"should": [{"match": {fld: value}}], "minimum_should_match": 1}}

    def either(clauses: list[dict[str, Any]]) -> dict[str, Any]:
        if len(clauses) == 1:
            return clauses[0]
        return {"bool": {"should": clauses, "minimum_should_match": 1}}

    def or_expr() -> dict[str, Any]:
        clauses = [and_expr()]
        while (peek() or "").lower() == "or":
            take()
            clauses.append(and_expr())
        return either(clauses)

    def and_expr() -> dict[str, Any]:
        clauses = [not_expr()]
        while (peek() or "").lower() == "and":
            take()
            clauses.append(not_expr())
        return clauses[0] if len(clauses) == 1 else {"bool": {"filter": clauses}}

    def not_expr() -> dict[str, Any]:
        if (peek() or "").lower() == "not":
            take()
            return {"bool": {"must_not": [not_expr()]}}
        if peek() == "(":
            take()
            inner = or_expr()
            assert take() == ")", query
            return inner
        term = take()
        fld, sep, value = term.partition(":")
        assert sep, f"not field:value in {query!r}: {term!r}"
        if value:
            return is_query(fld, value)
        assert take() == "(", query
        values = [take()]
        while (peek() or "").lower() == "or":
            take()
            values.append(take())
        assert take() == ")", query
        return either([is_query(fld, v) for v in values])

    if not tokens:
        return {"match_all": {}}
    out = or_expr()
    assert pos == len(tokens), f"left over in {query!r}: {tokens[pos:]}"
    return out


def test_kql_to_dsl() -> None:
    assert kql_to_dsl("") == {"match_all": {}}
    assert kql_to_dsl("snapshot:false and not verb:(create or delete)") == {
        "bool": {
            "filter": [
                {"bool": {"should": [{"match": {"snapshot": "false"}}], "minimum_should_match": 1}},
                {
                    "bool": {
                        "must_not": [
                            {
                                "bool": {
                                    "should": [
                                        {
                                            "bool": {
                                                "should": [{"match": {"verb": v}}],
                                                "minimum_should_match": 1,
                                            }
                                        }
                                        for v in ("create", "delete")
                                    ],
                                    "minimum_should_match": 1,
                                }
                            }
                        ]
                    }
                },
            ]
        }
    }
    assert kql_to_dsl("signals:pvc.*") == {
        "query_string": {"fields": ["signals"], "query": "pvc.*"}
    }


def vis_request(
    obj: dict[str, Any], time_field: str, start: str, end: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The search body Dashboards sends for a visualization, and its bucket aggs in order."""
    state = vis_state(obj)
    aggs = [a for a in state["aggs"] if a.get("enabled", True)]
    metrics = {a["id"]: a for a in aggs if a["schema"] == "metric"}
    buckets = [a for a in aggs if a["schema"] != "metric"]

    def metric_dsl(agg: dict[str, Any]) -> dict[str, Any]:
        assert agg["type"] in ("min", "max"), agg
        return {agg["type"]: {"field": agg["params"]["field"]}}

    def bucket_dsl(agg: dict[str, Any]) -> dict[str, Any]:
        p = agg["params"]
        if agg["type"] == "terms":
            order_by = metrics[p["orderBy"]]
            terms: dict[str, Any] = {"field": p["field"], "size": p["size"]}
            sub: dict[str, Any] = {}
            if order_by["type"] == "count":
                terms["order"] = {"_count": p["order"]}
            else:
                terms["order"] = {order_by["id"]: p["order"]}
                sub[order_by["id"]] = metric_dsl(order_by)
            if p.get("missingBucket"):
                terms["missing"] = MISSING
            return {"terms": terms, "aggs": sub}
        if agg["type"] == "filters":
            named = {f["label"]: kql_to_dsl(f["input"]["query"]) for f in p["filters"]}
            return {"filters": {"filters": named}, "aggs": {}}
        if agg["type"] == "date_histogram":
            histogram = {
                "field": p["field"],
                "fixed_interval": "10m",  # what "auto" picks for a few hours
                "time_zone": "UTC",
                "min_doc_count": p["min_doc_count"],
            }
            return {"date_histogram": histogram, "aggs": {}}
        raise AssertionError(f"no DSL for a {agg['type']} agg")

    deepest = {m["id"]: metric_dsl(m) for m in metrics.values() if m["type"] != "count"}
    tree: dict[str, Any] = deepest
    for agg in reversed(buckets):
        dsl = bucket_dsl(agg)
        dsl["aggs"] = {**dsl["aggs"], **tree}
        tree = {agg["id"]: dsl}
    source = search_source(obj)
    query = {
        "bool": {
            "filter": [
                kql_to_dsl(source["query"]["query"]),
                {"range": {time_field: {"gte": start, "lte": end}}},
            ]
        }
    }
    return {"size": 0, "query": query, "aggs": tree}, buckets


def bucket_keys(aggregations: dict[str, Any], levels: list[dict[str, Any]]) -> list[set[str]]:
    """The keys seen at each bucket level (over every parent bucket), outermost first."""
    seen: list[set[str]] = [set() for _ in levels]

    def walk(node: dict[str, Any], depth: int) -> None:
        if depth == len(levels):
            return
        raw = node[levels[depth]["id"]]["buckets"]
        items = raw.items() if isinstance(raw, dict) else ((b["key"], b) for b in raw)
        for key, bucket in items:
            if bucket["doc_count"]:
                seen[depth].add(str(bucket.get("key_as_string", key)))
                walk(bucket, depth + 1)

    walk(aggregations, 0)
    return seen


def real_mapped_fields(mapping: dict[str, Any]) -> dict[str, str]:
    """Dotted field -> type from a ``GET <index>/_mapping`` answer's properties."""
    out: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            out[path] = "disabled" if spec.get("enabled") is False else spec.get("type", "object")
            walk(spec.get("properties") or {}, f"{path}.")
            for sub, sub_spec in (spec.get("fields") or {}).items():
                out[f"{path}.{sub}"] = sub_spec["type"]

    walk(mapping["mappings"].get("properties") or {}, "")
    return out


def _old_index_template(params: TemplateParams) -> dict[str, Any]:
    """The index template setup wrote before: ``<prefix>-*`` at priority 200."""
    body = render_all(params).index_template
    return {**body, "index_patterns": [f"{params.prefix}-*"], "priority": 200}


def _dev_install_events(start: datetime) -> list[dict[str, Any]]:
    """The second install's few events: a ConfigMap written by something that left no
    managedFields (field manager unknown) and a cluster-scoped Node going NotReady."""
    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dev-settings",
            "namespace": "dev",
            "uid": "dev-cm-uid",
            "resourceVersion": "11",
            "creationTimestamp": rfc3339(start),
        },
        "data": {"mode": "a"},
    }
    changed = {
        **cm,
        "metadata": {**cm["metadata"], "resourceVersion": "12"},
        "data": {"mode": "b"},
    }
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "dev-node-1", "uid": "dev-node-uid", "resourceVersion": "21"},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "lastTransitionTime": rfc3339(start + timedelta(minutes=3)),
                }
            ]
        },
    }
    lines = [
        {"type": "ADDED", "object": cm, "timestamp": rfc3339(start)},
        {"type": "MODIFIED", "object": changed, "timestamp": rfc3339(start + timedelta(minutes=2))},
        {"type": "MODIFIED", "object": node, "timestamp": rfc3339(start + timedelta(minutes=3))},
    ]
    return [dict(doc) for line in lines for doc in to_documents(line)]


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Install:
    params: TemplateParams
    store: OpenSearchStore
    docs: list[dict[str, Any]]


@pytest.fixture(scope="module")
def two_installs(
    real_opensearch: str, incident_docs: list[dict[str, Any]]
) -> Iterator[dict[str, Install]]:
    """``<p>`` (upgraded from the old templates, holding the demo incident) and ``<p>-dev``
    (set up fresh, a few events of its own) on one real node; removed afterwards by name."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[real_opensearch], timeout=60)
    main = TemplateParams(prefix=f"twin{os.getpid()}-events", replicas=0, refresh_interval="1s")
    dev = replace(main, prefix=f"{main.prefix}-dev")
    try:
        yield _set_up_two_installs(client, main, dev, incident_docs)
    finally:
        for params in (main, dev):
            delete_indices(client, params.index_pattern)
            delete_indices(client, params.audit_index)
            client.indices.delete_index_template(name=params.index_template_name, ignore=[404])
            for name in (params.settings_name, params.mappings_name):
                client.cluster.delete_component_template(name=name, ignore=[404])
        client.close()


def quiet(line: str) -> None:
    pass


def _set_up_two_installs(
    client: Any, main: TemplateParams, dev: TemplateParams, incident_docs: list[dict[str, Any]]
) -> dict[str, Install]:
    from opensearchpy.exceptions import RequestError

    # the main install as the previous release left it: old index template, first index
    applied = setup(client, main, report=quiet).params  # with ISM and flat_object as found
    client.indices.put_index_template(name=main.prefix, body=_old_index_template(applied))
    # ... where the second install's old template is refused, as the issue says
    dev_as_found = replace(dev, ism=applied.ism, flat_object=applied.flat_object)
    for key, body in render_all(dev_as_found).items():
        if key.startswith("component-"):
            name = render_all(dev_as_found).names[key]
            client.cluster.put_component_template(name=name, body=body)
    with pytest.raises(RequestError, match="same priority"):
        client.indices.put_index_template(name=dev.prefix, body=_old_index_template(dev_as_found))
    # the upgrade: setup again moves the main install to the new pattern, then the second
    # install sets up beside it; a third run of each changes nothing
    upgrade = setup(client, main, report=quiet)
    assert upgrade.statuses["index-template"] == "updated", upgrade.statuses
    assert upgrade.statuses["bootstrap-index"] == "unchanged"  # the alias stays where it is
    assert setup(client, dev, report=quiet).statuses["index-template"] == "created"
    for params in (main, dev):
        again = setup(client, params, report=quiet)
        assert set(again.statuses.values()) <= {"unchanged", "skipped"}, again.statuses
        assert not again.warnings or all("ISM" in w for w in again.warnings), again.warnings
    stores = {}
    dev_docs = _dev_install_events(ANCHOR - timedelta(hours=2))
    for name, params, docs in (("main", main, incident_docs), ("dev", dev, dev_docs)):
        store = OpenSearchStore(client, prefix=params.prefix, refresh="wait_for")
        written = store.write(cast(list[EventDocument], docs))
        assert written.stored == len(docs) and not written.errors, written.errors[:3]
        stores[name] = Install(params=params, store=store, docs=docs)
    return stores


def test_two_installs_each_read_their_own_events(two_installs: dict[str, Install]) -> None:
    main, dev = two_installs["main"], two_installs["dev"]
    client = main.store.client
    # the patterns: each install's indices, not the other's
    for one, other in ((main, dev), (dev, main)):
        own = sorted(client.indices.get(index=one.store.pattern))
        assert own == [one.params.bootstrap_index], own
        assert one.params.bootstrap_index not in client.indices.get(index=other.store.pattern)
        template = client.indices.get_index_template(name=one.params.index_template_name)
        patterns = template["index_templates"][0]["index_template"]["index_patterns"]
        assert patterns == [f"{one.params.prefix}-0*"]
    # each store counts, searches and groups its own events only
    for one in (main, dev):
        assert one.store.health().detail["events"] == len(one.docs)
        ids, cursor = set(), None
        while True:
            page = one.store.search(EventQuery(limit=1000, after=cursor))
            ids |= {d["id"] for d in page.items}
            if page.next is None:
                break
            cursor = page.next
        assert ids == {d["id"] for d in one.docs}
        kinds = one.store.aggregate(AggregateQuery(group_by=("kind",), limit=1000, latest=False))
        assert sum(b.count for b in kinds.buckets) == len(one.docs)
    # a rollover of one install stays its own
    rolled = client.indices.rollover(alias=dev.params.alias)
    assert rolled["new_index"] == f"{dev.params.prefix}-000002"
    assert main.store.health().detail["events"] == len(main.docs)
    assert dev.store.health().detail["events"] == len(dev.docs)


def test_empty_fields_are_left_out_of_the_index_but_not_of_the_documents(
    two_installs: dict[str, Install],
) -> None:
    dev = two_installs["dev"]
    node = next(d for d in dev.docs if d["kind"] == "Node")
    cm = next(d for d in dev.docs if d["kind"] == "ConfigMap")
    assert node["namespace"] == "" and node["fieldManager"] == "" and cm["fieldManager"] == ""
    found = dev.store.client.search(
        index=dev.store.pattern, body={"query": {"ids": {"values": [node["id"]]}}}
    )
    (hit,) = found["hits"]["hits"]
    stored = hit["_source"]
    assert "namespace" not in stored and "fieldManager" not in stored
    # read back, the documents are what was written (the REST contract keeps namespace "")
    assert dev.store.documents([node["id"], cm["id"]]) == {node["id"]: node, cm["id"]: cm}
    assert list(dev.store.documents([node["id"]])[node["id"]]) == list(node)  # key order too
    # namespace "" (the API's `_`) still finds cluster-scoped objects
    page = dev.store.search(EventQuery(filter=EventFilter(namespace=("",))))
    assert [d["id"] for d in page.items] == [node["id"]]
    page = dev.store.search(EventQuery(filter=EventFilter(field_manager=("",))))
    assert {d["id"] for d in page.items} == {d["id"] for d in dev.docs}
    groups = dev.store.aggregate(AggregateQuery(group_by=("namespace",), latest=False))
    assert {b.key["namespace"]: b.count for b in groups.buckets} == {"dev": 2, "": 1}


def test_documents_indexed_with_empty_strings_still_group_and_filter_as_empty(
    two_installs: dict[str, Install],
) -> None:
    """Older releases indexed ``namespace: ""``: after the upgrade they and the new
    documents without the field are one group "" and one filter, in both aggregation paths
    (terms with ``missing: ""``, and the composite fallback whose null and "" keys differ)."""
    dev = two_installs["dev"]
    client = dev.store.client
    node = next(d for d in dev.docs if d["kind"] == "Node")
    legacy = {**queries.index_body(dict(node)), "namespace": "", "fieldManager": ""}
    legacy["id"] = f"{node['id']}-legacy"
    written = client.index(index=dev.params.alias, id=legacy["id"], body=legacy, refresh="wait_for")
    try:
        page = dev.store.search(EventQuery(filter=EventFilter(namespace=("",))))
        assert sorted(d["id"] for d in page.items) == [node["id"], legacy["id"]]
        query = AggregateQuery(group_by=("namespace", "fieldManager"), latest=False)
        top = {
            (b.key["namespace"], b.key["fieldManager"]): b.count
            for b in dev.store.aggregate(query).buckets
        }
        assert top == {("dev", ""): 2, ("", ""): 2}
        every = {
            g[0]["namespace"]: g[1]
            for g in dev.store._all_groups(replace(query, group_by=("namespace",)))
        }
        assert every == {"dev": 2, "": 2}
    finally:
        client.delete(index=written["_index"], id=legacy["id"], refresh=True)


def test_every_visualization_runs_on_the_real_node_and_fills_its_columns(
    two_installs: dict[str, Install],
) -> None:
    start, end = rfc3339(ANCHOR - timedelta(hours=7)), rfc3339(ANCHOR)
    seen: dict[str, dict[str, list[set[str]]]] = {}
    for name, install in two_installs.items():
        client = install.store.client
        objects = render_objects(install.params.prefix)
        (pattern,) = [o for o in objects if o["type"] == "index-pattern"]
        title = pattern["attributes"]["title"]
        time_field = pattern["attributes"]["timeFieldName"]
        # the index pattern is this install's indices, no other
        assert sorted(client.indices.get(index=title)) == sorted(
            client.indices.get(index=install.store.pattern)
        )
        # every field a saved object reads is in the real mapping, with a usable type
        real = {}
        for mapping in client.indices.get_mapping(index=title).values():
            real.update(real_mapped_fields(mapping))
        for obj in objects:
            for fld, role, _ in fields_used(obj):
                assert real.get(fld) in ROLE_TYPES[role], (obj["id"], fld, real.get(fld))
            if obj["type"] == "search":  # Discover's request: the query, sorted
                body = {
                    "size": 5,
                    "query": kql_to_dsl(search_source(obj)["query"]["query"]),
                    "sort": [{s[0]: s[1]} for s in obj["attributes"]["sort"]],
                }
                client.search(index=title, body=body)
        seen[name] = {}
        for obj in objects:
            if obj["type"] != "visualization" or not vis_state(obj)["aggs"]:
                continue
            body, levels = vis_request(obj, time_field, start, end)
            answer = client.search(index=title, body=body)  # raises on any refusal
            assert not answer.get("_shards", {}).get("failures"), answer["_shards"]
            keys = bucket_keys(answer["aggregations"], levels)
            seen[name][obj["id"].removeprefix(f"{install.params.prefix}-")] = keys
    main = seen["main"]
    # the demo incident fills every column of every panel
    for vis, keys in main.items():
        assert all(keys), (vis, keys)
    assert {"create", "update", "delete"} <= main["vis-events-by-verb"][1]
    assert "BackOff" in main["vis-warnings-by-reason"][0]
    assert "worker-3" in main["vis-node-conditions"][0]
    assert {"helm", "kubectl-client-side-apply"} <= main["vis-workload-changes"][0]
    pvc = main["vis-pvc-problems"]
    assert pvc[1] == {"claim not provisioned, bound or lost"}
    assert "postgres-data" in pvc[2] and pvc[3] == {"ProvisioningFailed"}
    # the dev install's changes: the ConfigMap's unknown field manager is the missing bucket
    dev = seen["dev"]["vis-workload-changes"]
    assert dev[0] == {MISSING} and dev[1] == {"ConfigMap"} and dev[3] == {"dev-settings"}
    assert seen["dev"]["vis-node-conditions"][0] == {"dev-node-1"}
    # and neither install's panels show the other's objects
    assert "dev-settings" not in main["vis-workload-changes"][3]
    assert "worker-3" not in seen["dev"]["vis-node-conditions"][0]
