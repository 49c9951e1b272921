"""The OpenSearch index templates and ISM policy: they render, parse and agree."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from kubetrail import __version__
from kubetrail.store.base import GROUP_KEYS
from kubetrail.store.opensearch import queries
from kubetrail.store.opensearch.templates import (
    TEMPLATE_FILES,
    TemplateError,
    TemplateParams,
    render,
    render_all,
)

REPO = Path(__file__).resolve().parents[2]

#: every field the OpenSearch store filters or groups on (and ``id``, its cursor tiebreak),
#: read from its query builder so a new filter cannot go unmapped
FILTER_FIELDS = tuple(
    sorted(set(queries.FILTER_FIELDS.values()) | set(queries.GROUP_FIELDS.values()) | {"id"})
)

VARIANTS = {
    "defaults": TemplateParams(),
    "custom": TemplateParams(
        prefix="audit.k8s-prod",
        retention="30d",
        rollover_age="12h",
        rollover_size="5gb",
        shards=3,
        replicas=0,
        refresh_interval="30s",
    ),
    "old-opensearch": TemplateParams(flat_object=False),
    "no-ism": TemplateParams(ism=False, retention="7d"),
}


@pytest.fixture(params=sorted(VARIANTS))
def params(request: pytest.FixtureRequest) -> TemplateParams:
    return VARIANTS[request.param]


def field_mapping(mappings: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = {"properties": mappings["properties"]}
    for part in dotted.split("."):
        node = (node or {}).get("properties", {}).get(part)
    return node


def mappings_of(params: TemplateParams) -> dict[str, Any]:
    return render_all(params)["component-mappings"]["template"]["mappings"]


def settings_of(params: TemplateParams) -> dict[str, Any]:
    return render_all(params)["component-settings"]["template"]["settings"]


def walk(value: Any):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


# -- rendering -------------------------------------------------------------------


def test_every_template_renders_to_a_json_object(params: TemplateParams) -> None:
    rendered = render_all(params)
    assert set(rendered) == set(TEMPLATE_FILES)
    for key, body in rendered.items():
        assert isinstance(body, dict) and body, key
        json.dumps(body)  # plain JSON values only


def test_files_are_shipped_in_the_package() -> None:
    folder = REPO / "src/kubetrail/store/opensearch/index_templates"
    shipped = sorted(p.name for p in folder.glob("*.j2"))
    assert shipped == sorted(TEMPLATE_FILES.values())
    installed = resources.files("kubetrail.store.opensearch").joinpath("index_templates")
    assert sorted(p.name for p in installed.iterdir() if p.name.endswith(".j2")) == shipped
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]["kubetrail.store.opensearch"]
    assert "index_templates/*.j2" in package_data


def test_names_follow_the_prefix(params: TemplateParams) -> None:
    rendered = render_all(params)
    p = params.prefix
    assert rendered.names == {
        "component-settings": f"{p}-settings",
        "component-mappings": f"{p}-mappings",
        "index-template": p,
        "ism-policy": f"{p}-{params.retention}",
        "bootstrap-index": f"{p}-000001",
        "audit-index": f"{p}-audit",
        "alias": p,
    }
    assert params.alias == p
    assert list(rendered.component_templates) == [f"{p}-settings", f"{p}-mappings"]


def test_default_policy_id_is_the_14_day_one() -> None:
    assert render_all().names["ism-policy"] == "kubetrail-events-14d"
    assert render_all().names["alias"] == "kubetrail-events"


def test_parameters_reach_the_bodies_exactly() -> None:
    params = VARIANTS["custom"]
    rendered = render_all(params)
    assert rendered["index-template"]["index_patterns"] == ["audit.k8s-prod-0*"]
    assert rendered["ism-policy"]["policy"]["states"][0]["actions"][0]["rollover"] == {
        "min_index_age": "12h",
        "min_primary_shard_size": "5gb",
    }


# -- index template and bootstrap ------------------------------------------------


def test_index_template_composes_the_component_templates(params: TemplateParams) -> None:
    rendered = render_all(params)
    tpl = rendered.index_template
    assert tpl["index_patterns"] == [f"{params.prefix}-0*"]
    assert tpl["priority"] == 200 + len(params.prefix)
    assert tpl["composed_of"] == [params.settings_name, params.mappings_name]
    assert isinstance(tpl["priority"], int) and tpl["priority"] > 0
    assert tpl["_meta"]["kubetrail_version"] == __version__
    assert tpl["_meta"]["retention"] == ("ism" if params.ism else "fallback")
    assert tpl["_meta"]["retention_age"] == params.retention


def test_alias_is_not_in_any_template_aliases(params: TemplateParams) -> None:
    rendered = render_all(params)
    for key in ("index-template", "component-settings", "component-mappings"):
        assert "aliases" not in rendered[key].get("template", {}), key
        assert not any(isinstance(n, dict) and "aliases" in n for n in walk(rendered[key])), key


def test_bootstrap_index_carries_the_write_alias(params: TemplateParams) -> None:
    rendered = render_all(params)
    assert rendered.bootstrap == {"aliases": {params.alias: {"is_write_index": True}}}
    # the bootstrap index is one of the template's indices, the alias is not
    pattern = rendered.index_template["index_patterns"][0]
    assert fnmatch.fnmatch(rendered.names["bootstrap-index"], pattern)
    assert not fnmatch.fnmatch(params.alias, pattern)


def test_two_installs_templates_do_not_collide() -> None:
    """Prefixes kubetrail-events and kubetrail-events-dev on one cluster: neither pattern
    matches the other's indices, and where patterns could overlap at all (a prefix nested
    in another after "-0") the priorities differ, which is all OpenSearch asks."""
    main, dev = TemplateParams(), TemplateParams(prefix="kubetrail-events-dev")
    for one, other in ((main, dev), (dev, main)):
        pattern = render_all(one).index_template["index_patterns"][0]
        ism = render_all(one).ism_policy["policy"]["ism_template"]["index_patterns"][0]
        for index in (other.bootstrap_index, f"{other.prefix}-000042", other.alias):
            assert not fnmatch.fnmatch(index, pattern) and not fnmatch.fnmatch(index, ism)
        assert fnmatch.fnmatch(f"{one.prefix}-000042", pattern)
    nested = TemplateParams(prefix="kubetrail-events-0b")
    assert fnmatch.fnmatch(nested.bootstrap_index, main.index_pattern)  # overlap possible ...
    assert nested.index_priority > main.index_priority  # ... but never at one priority
    assert nested.ism_priority > main.ism_priority


# -- settings ----------------------------------------------------------------------


def test_settings(params: TemplateParams) -> None:
    settings = settings_of(params)
    assert settings["index.codec"] == "best_compression"
    assert settings["index.number_of_shards"] == params.shards
    assert settings["index.number_of_replicas"] == params.replicas
    assert settings["index.refresh_interval"] == params.refresh_interval
    assert 50 <= settings["index.mapping.total_fields.limit"] <= 1000


def test_rollover_alias_setting_only_with_ism() -> None:
    key = "plugins.index_state_management.rollover_alias"
    assert settings_of(TemplateParams(prefix="abc"))[key] == "abc"
    assert key not in settings_of(TemplateParams(prefix="abc", ism=False))


# -- mappings ----------------------------------------------------------------------


def test_mappings_are_strict_and_typed(params: TemplateParams) -> None:
    m = mappings_of(params)
    assert m["dynamic"] is False
    assert field_mapping(m, "timestamp") == {
        "type": "date",
        "format": "strict_date_optional_time||epoch_millis",
    }
    assert field_mapping(m, "timestampMicros") == {"type": "long"}
    assert field_mapping(m, "objectChanges") == {"type": "object", "enabled": False}
    assert field_mapping(m, "searchText") == {"type": "text", "analyzer": "standard"}
    message = field_mapping(m, "message")
    assert message["type"] == "text"
    assert message["fields"]["keyword"] == {"type": "keyword", "ignore_above": 1024}
    assert field_mapping(m, "responseStatus") == {"type": "integer"}
    assert field_mapping(m, "count") == {"type": "integer"}
    assert field_mapping(m, "snapshot") == {"type": "boolean"}


@pytest.mark.parametrize("name", FILTER_FIELDS)
def test_every_filter_field_is_a_keyword(name: str) -> None:
    for params in VARIANTS.values():
        assert field_mapping(mappings_of(params), name) == {"type": "keyword"}, (params, name)


def test_filter_field_list_covers_the_store_group_keys() -> None:
    keys = {"signals" if k == "signal" else k for k in GROUP_KEYS}
    assert keys <= set(FILTER_FIELDS)


def test_only_the_document_fields_are_mapped() -> None:
    props = mappings_of(TemplateParams())["properties"]
    assert set(props) == {
        "timestamp",
        "timestampMicros",
        "id",
        "verb",
        "user",
        "namespace",
        "resourceType",
        "resourceName",
        "stage",
        "requestURI",
        "uid",
        "resourceVersion",
        "apiGroup",
        "apiVersion",
        "kind",
        "signals",
        "fieldManager",
        "userSource",
        "auditID",
        "impersonatedBy",
        "reason",
        "eventType",
        "involvedObject",
        "responseStatus",
        "count",
        "snapshot",
        "message",
        "objectChanges",
        "searchText",
        "labels",
        "annotations",
    }
    assert set(props["involvedObject"]["properties"]) == {"kind", "namespace", "name", "uid"}


def test_labels_are_flat_object_from_2_7() -> None:
    m = mappings_of(TemplateParams())
    assert field_mapping(m, "labels") == {"type": "flat_object"}
    assert field_mapping(m, "annotations") == {"type": "flat_object"}


def test_without_flat_object_labels_are_stored_not_indexed() -> None:
    m = mappings_of(TemplateParams(flat_object=False))
    assert field_mapping(m, "labels") == {"type": "object", "enabled": False}
    assert field_mapping(m, "annotations") == {"type": "object", "enabled": False}
    assert "flat_object" not in json.dumps(render_all(TemplateParams(flat_object=False)).bodies)


# -- ISM policy ---------------------------------------------------------------------


def test_policy_states_and_transitions_are_consistent(params: TemplateParams) -> None:
    policy = render_all(params).ism_policy["policy"]
    states = {s["name"]: s for s in policy["states"]}
    assert len(states) == len(policy["states"]), "state names must be unique"
    assert policy["default_state"] in states
    for state in policy["states"]:
        for transition in state.get("transitions", []):
            assert transition["state_name"] in states, transition
    assert {"delete": {}} in states["delete"]["actions"]
    assert states["delete"].get("transitions", []) == []
    # every state is reachable from the default one
    reachable, todo = set(), [policy["default_state"]]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(t["state_name"] for t in states[name].get("transitions", []))
    assert reachable == set(states)


def test_policy_rolls_over_then_deletes_after_the_retention(params: TemplateParams) -> None:
    policy = render_all(params).ism_policy["policy"]
    hot = next(s for s in policy["states"] if s["name"] == policy["default_state"])
    rollovers = [a["rollover"] for a in hot["actions"] if "rollover" in a]
    assert rollovers == [
        {"min_index_age": params.rollover_age, "min_primary_shard_size": params.rollover_size}
    ]
    ages = [
        t["conditions"]["min_rollover_age"]
        for t in hot["transitions"]
        if t["state_name"] == "delete"
    ]
    assert ages == [params.retention]


def test_ism_template_matches_the_index_template(params: TemplateParams) -> None:
    rendered = render_all(params)
    ism_template = rendered.ism_policy["policy"]["ism_template"]
    entries = ism_template if isinstance(ism_template, list) else [ism_template]
    patterns = [p for e in entries for p in e["index_patterns"]]
    assert patterns == rendered.index_template["index_patterns"]
    assert all(isinstance(e["priority"], int) for e in entries)
    assert fnmatch.fnmatch(rendered.names["bootstrap-index"], patterns[0])


# -- parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prefix": "Kubetrail"}, "prefix 'Kubetrail' is not a valid index name prefix"),
        ({"prefix": "-events"}, "is not a valid index name prefix"),
        ({"prefix": "a b"}, "is not a valid index name prefix"),
        ({"prefix": 'a"b'}, "is not a valid index name prefix"),
        ({"prefix": "x" * 201}, "at most 200 characters"),
        ({"retention": "0d"}, "retention '0d' must be a positive time like 14d"),
        ({"retention": 14}, "retention 14 must be"),
        ({"retention": "14"}, "retention '14' must be"),
        ({"retention": "36501d"}, "at most 36500d"),
        ({"rollover_docs": 0}, "rollover documents 0 must be a positive whole number"),
        ({"rollover_docs": True}, "rollover documents True"),
        ({"rollover_age": "1 day"}, "rollover age '1 day' must be a positive time"),
        ({"rollover_age": "0d"}, "rollover age '0d'"),
        ({"rollover_size": "30"}, "rollover size '30' must be a positive size"),
        ({"rollover_size": "30GB"}, "rollover size '30GB'"),
        ({"shards": 0}, "shards 0 must be a whole number from 1 to 1024"),
        ({"replicas": -1}, "replicas -1 must be a whole number from 0 to 64"),
        ({"refresh_interval": "soon"}, "refresh interval 'soon' must be a time"),
        ({"flat_object": "yes"}, "flat_object must be true or false"),
        ({"ism": 1}, "ism must be true or false"),
    ],
)
def test_bad_params_say_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as info:
        TemplateParams(**kwargs)
    assert "\n" not in str(info.value)


def test_good_edge_params_are_accepted() -> None:
    TemplateParams(prefix="a", retention="1d", rollover_age="30m", replicas=0)
    TemplateParams(retention="3m", rollover_age="1m", rollover_docs=1)
    TemplateParams(refresh_interval="-1", rollover_size="500mb")


def test_broken_template_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetrail.store.opensearch import templates

    monkeypatch.setattr(templates, "template_source", lambda name: '{"a": {{ shards }},}')
    with pytest.raises(TemplateError, match=r"x\.json\.j2 does not render to valid JSON"):
        render("x.json.j2", TemplateParams())
    monkeypatch.setattr(templates, "template_source", lambda name: '{"a": {{ nope }}}')
    with pytest.raises(TemplateError, match=r"'nope' is undefined"):
        render("x.json.j2", TemplateParams())
