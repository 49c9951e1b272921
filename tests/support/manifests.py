"""Rendering deploy/ with `kubectl kustomize` and reading the result.

Every overlay is rendered alone and with the optional components (through a throw-away
kustomization in a temporary directory that points back at deploy/ by relative paths:
kustomize refuses absolute ones). Renders are cached for the session.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = ("embedded", "opensearch", "opensearch-demo")
COMPONENTS = ("no-secrets", "mcp-http", "opensearch-ca")

#: what is rendered: name -> (overlay, components)
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "embedded": ("embedded", ()),
    "opensearch": ("opensearch", ()),
    "opensearch-demo": ("opensearch-demo", ()),
    "embedded+no-secrets": ("embedded", ("no-secrets",)),
    "embedded+mcp-http": ("embedded", ("mcp-http",)),
    "opensearch+no-secrets+mcp-http+opensearch-ca": (
        "opensearch",
        ("no-secrets", "mcp-http", "opensearch-ca"),
    ),
    "opensearch-demo+mcp-http": ("opensearch-demo", ("mcp-http",)),
}

#: images of the demo's third-party servers (the only containers not built from deploy/Dockerfile)
THIRD_PARTY_IMAGES = ("opensearchproject/opensearch:", "opensearchproject/opensearch-dashboards:")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip(
            "kubectl is not installed: the manifests cannot be rendered (kubectl kustomize)"
        )
    return path


@cache
def _render_dir(path: str) -> str:
    proc = subprocess.run(
        [kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{proc.stderr}")
    return proc.stdout


@cache
def render(variant: str) -> tuple[dict[str, Any], ...]:
    overlay, components = VARIANTS[variant]
    target = DEPLOY / "overlays" / overlay
    if not components:
        text = _render_dir(str(target))
    else:
        with tempfile.TemporaryDirectory(prefix="kubetrail-kustomize-") as tmp:
            kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(target, tmp)],
                "components": [os.path.relpath(DEPLOY / "components" / c, tmp) for c in components],
            }
            Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
            text = _render_dir(tmp)
    return tuple(d for d in yaml.safe_load_all(text) if d)


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> list[dict]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload (``metadata`` and ``spec``), else None."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]
    return None


@dataclass(frozen=True)
class Container:
    owner: dict[str, Any]  # the workload
    pod: dict[str, Any]  # its pod spec
    spec: dict[str, Any]  # the container

    @property
    def where(self) -> str:
        return f"{self.owner['kind']}/{self.owner['metadata']['name']}:{self.spec['name']}"

    @property
    def long_running(self) -> bool:
        return self.owner["kind"] in ("Deployment", "StatefulSet", "DaemonSet")

    @property
    def is_kubetrail(self) -> bool:
        return not self.spec["image"].startswith(THIRD_PARTY_IMAGES)

    @property
    def args(self) -> list[str]:
        return list(self.spec.get("args") or [])

    def port(self, name_or_number: str | int) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        for p in self.spec.get("ports") or []:
            if p.get("name") == name_or_number:
                return int(p["containerPort"])
        raise AssertionError(f"{self.where}: no container port named {name_or_number!r}")

    def env(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in self.spec.get("env") or []}

    def mounts(self) -> dict[str, dict[str, Any]]:
        return {m["mountPath"]: m for m in self.spec.get("volumeMounts") or []}

    def volume(self, name: str) -> dict[str, Any]:
        for v in self.pod.get("volumes") or []:
            if v["name"] == name:
                return v
        raise AssertionError(f"{self.where}: no volume {name!r}")


def containers(docs: tuple[dict[str, Any], ...]) -> Iterator[Container]:
    for obj in docs:
        template = pod_template(obj)
        if template is None:
            continue
        pod = template["spec"]
        for c in [*(pod.get("initContainers") or []), *pod["containers"]]:
            yield Container(obj, pod, c)


def kubetrail_containers(docs: tuple[dict[str, Any], ...]) -> list[Container]:
    return [c for c in containers(docs) if c.is_kubetrail]


@cache
def _parser() -> argparse.ArgumentParser:
    from kubetrail.cli import build_parser

    return build_parser()


class ArgsError(AssertionError):
    pass


def parse_args(args: list[str]) -> argparse.Namespace:
    """``kubetrail ARGS`` as the image's entrypoint would parse them; argparse's exit on an
    unknown command or flag becomes an assertion with its message."""
    parser = _parser()

    def fail(message: str) -> None:
        raise ArgsError(f"kubetrail {' '.join(args)}: {message}")

    # argparse reports through .error() of the parser that failed (a sub-parser for a flag)
    originals = {}
    for p in _all_parsers(parser):
        originals[p] = p.error
        p.error = fail  # type: ignore[method-assign]
    try:
        ns = parser.parse_args(args)
    finally:
        for p, error in originals.items():
            p.error = error  # type: ignore[method-assign]
    if not getattr(ns, "handler", None):
        raise ArgsError(f"kubetrail {' '.join(args)}: no command")
    ns.command = args[0]
    return ns


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(_all_parsers(sub))
    return found
