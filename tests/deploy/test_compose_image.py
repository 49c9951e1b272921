"""compose.yaml (the local stack) and deploy/Dockerfile (the image)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from kubetrail.store import parse_store_url
from tests.support.manifests import (
    DEPLOY,
    REPO,
    containers,
    kubetrail_containers,
    parse_args,
    render,
)

COMPOSE = REPO / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
ROOT_DOCKERIGNORE = REPO / ".dockerignore"
LOCK = DEPLOY / "requirements.lock"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def kubetrail_services(spec: dict) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in spec["services"].items()
        if (svc.get("build") or {}).get("dockerfile") == "deploy/Dockerfile"
    }


def container_port(svc: dict) -> set[int]:
    return {int(str(p).rsplit(":", 1)[1]) for p in svc.get("ports") or []}


# -- compose.yaml --------------------------------------------------------------------------


def test_compose_has_the_stack() -> None:
    spec = compose()
    assert {"opensearch", "dashboards", "setup", "api"} <= set(spec["services"])
    assert set(kubetrail_services(spec)) == {"setup", "api"}
    for svc in kubetrail_services(spec).values():
        assert (REPO / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
        assert (REPO / svc["build"]["context"]).resolve() == REPO


def test_compose_commands_and_flags_exist() -> None:
    for name, svc in kubetrail_services(compose()).items():
        args = parse_args([str(a) for a in svc["command"]])
        assert args.command == {"setup": "setup", "api": "demo"}[name]


def test_compose_urls_name_its_services_and_ports() -> None:
    spec = compose()
    services = spec["services"]
    setup = parse_args([str(a) for a in services["setup"]["command"]])
    api = parse_args([str(a) for a in services["api"]["command"]])
    for url in (setup.store, api.store):
        parsed = parse_store_url(url)
        assert parsed.scheme.startswith("opensearch")
        target = urlsplit(url.removeprefix("opensearch+"))
        assert target.hostname == "opensearch" and target.port in container_port(
            services["opensearch"]
        )
    dashboards = urlsplit(setup.dashboards_url)
    assert dashboards.hostname == "dashboards" and dashboards.port in container_port(
        services["dashboards"]
    )
    assert api.host == "0.0.0.0" and api.port in container_port(services["api"])
    assert f":{api.port}/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["dashboards"]["environment"]["OPENSEARCH_HOSTS"] == '["http://opensearch:9200"]'


def test_compose_start_order() -> None:
    services = compose()["services"]
    assert services["setup"]["depends_on"]["opensearch"]["condition"] == "service_healthy"
    assert services["setup"]["depends_on"]["dashboards"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    for svc in services.values():
        for dep in svc.get("depends_on") or {}:
            assert dep in services


def test_compose_is_local_only_and_unprivileged() -> None:
    spec = compose()
    env = spec["services"]["opensearch"]["environment"]
    assert env["DISABLE_SECURITY_PLUGIN"] == "true", "security off: that is why ports are local"
    for name, svc in spec["services"].items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    for name, svc in kubetrail_services(spec).items():
        assert svc["user"] == "10001:10001", name
        assert svc["read_only"] is True and "/tmp" in svc["tmpfs"], name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name


def test_compose_images_match_the_demo_overlay() -> None:
    services = compose()["services"]
    demo_images = {
        c.spec["image"] for c in containers(render("opensearch-demo")) if not c.is_kubetrail
    }
    assert {services["opensearch"]["image"], services["dashboards"]["image"]} == demo_images


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    proc = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr


# -- deploy/Dockerfile ---------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_with_pinned_bases() -> None:
    froms = [rest for kw, rest in instructions() if kw == "FROM"]
    assert len(froms) >= 2, "multi-stage: build, then a runtime stage without build tools"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minor = requires.removeprefix(">=")
    for line in froms:
        image = line.split()[0]
        digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
        exact_tag = re.fullmatch(
            r"python:(\d+\.\d+)\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image
        )
        assert digest and exact_tag, f"FROM {image}: pin an exact patch tag and its digest"
        assert exact_tag.group(1) == minor, f"FROM {image}: Python {minor} expected"
    assert len(set(froms[0].split()[:1]) | {f.split()[0] for f in froms}) == 1, (
        "build and runtime stages on the same base image"
    )


def test_dockerfile_runs_as_the_unprivileged_user_of_the_manifests() -> None:
    steps = instructions()
    last_from = max(i for i, (kw, _) in enumerate(steps) if kw == "FROM")
    users = [rest for kw, rest in steps[last_from:] if kw == "USER"]
    assert users, "the runtime stage needs a USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root uid (runAsNonRoot can check it)"
    manifest_uids = {
        (c.pod.get("securityContext") or {}).get("runAsUser")
        for c in kubetrail_containers(render("opensearch"))
    }
    assert manifest_uids == {int(uid)}


def test_dockerfile_installs_the_wheel_and_runs_kubetrail() -> None:
    steps = instructions()
    runs = " ".join(rest for kw, rest in steps if kw == "RUN")
    assert "pip wheel" in runs and "pip install --no-deps /wheels/kubetrail-" in runs
    # the dependencies come from the lock, each file checked against its hash
    assert "pip install --require-hashes --only-binary :all: -r requirements.lock" in runs
    assert ("COPY", "deploy/requirements.lock ./") in steps
    assert "pip check" in runs
    assert any(kw == "COPY" and rest.startswith("--from=build") for kw, rest in steps)
    assert ("ENTRYPOINT", '["kubetrail"]') in steps


def _ignored(rel: str, pattern: str) -> bool:
    """Docker's rule: a pattern matches the path or one of its parent directories;
    ``**/`` matches any number of leading directories."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return any(
            fnmatch.fnmatch("/".join(parts[j : i + 1]), tail)
            for i in range(len(parts))
            for j in range(i + 1)
        )
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)


def _context_files() -> list[Path]:
    """The files the build context holds under deploy/Dockerfile.dockerignore's rules."""
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    kept = []
    for path in REPO.rglob("*"):
        if not path.is_file() or {".git", ".venv"} & set(path.relative_to(REPO).parts):
            continue
        rel = path.relative_to(REPO).as_posix()
        included = True
        for rule in rules:
            negate = rule.startswith("!")
            if _ignored(rel, rule.lstrip("!").rstrip("/")):
                included = negate
        if included:
            kept.append(path)
    return kept


def test_wheel_builds_from_the_docker_build_context(tmp_path: Path) -> None:
    """What `pip wheel` sees in the image build (the context after .dockerignore) is enough
    for a wheel with the `kubetrail` command and the index templates."""
    context = tmp_path / "context"
    for path in _context_files():
        target = context / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    assert (context / "pyproject.toml").is_file() and (context / "src" / "kubetrail").is_dir()
    assert not (context / "tests").exists() and not (context / ".venv").exists()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "--wheel-dir",
            str(tmp_path / "w"),
            ".",
        ],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and re.search(
        r"connection|resolve|network|Could not find a version", proc.stderr, re.I
    ):
        pytest.skip(
            f"pip cannot fetch the build backend here: {proc.stderr.strip().splitlines()[-1]}"
        )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "w").glob("kubetrail-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "kubetrail = kubetrail.cli:main" in zf.read(entry_points).decode()
    assert "kubetrail/cli/__init__.py" in names
    for folder in ("index_templates", "saved_objects"):  # jinja2 resources, read at run time
        prefix = f"kubetrail/store/opensearch/{folder}/"
        assert any(n.startswith(prefix) and n.endswith(".j2") for n in names), folder


def _locked() -> dict[str, tuple[str, list[str]]]:
    """deploy/requirements.lock: name -> (version, hashes)."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    found = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *options = line.split()
        name, _, version = spec.partition("==")
        found[re.sub(r"[-_.]+", "-", name).lower()] = (
            version,
            [o.removeprefix("--hash=") for o in options if o.startswith("--hash=")],
        )
    return found


def test_the_lock_pins_every_dependency_within_its_range_with_hashes() -> None:
    """Reproducible builds: every runtime dependency of pyproject.toml is in the lock, at a
    version its range allows, every entry exact (==) with sha256 hashes."""
    from packaging.requirements import Requirement

    locked = _locked()
    assert locked, "deploy/requirements.lock is empty"
    for name, (version, hashes) in locked.items():
        assert version and re.fullmatch(r"[\w.!+]+", version), (name, version)
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for raw in project["dependencies"]:
        req = Requirement(raw)
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        assert key in locked, f"{req.name} is not in deploy/requirements.lock: regenerate it"
        assert req.specifier.contains(locked[key][0], prereleases=True), (raw, locked[key][0])
    assert "kubetrail" not in locked, "the lock holds the dependencies; the wheel is built"


def test_both_dockerignore_files_agree() -> None:
    """BuildKit reads deploy/Dockerfile.dockerignore, the classic builder only the root
    .dockerignore: the same context either way, the lock in it, the tests out of it."""
    assert ROOT_DOCKERIGNORE.read_text() == DOCKERIGNORE.read_text()
    files = {p.relative_to(REPO).as_posix() for p in _context_files()}
    assert "deploy/requirements.lock" in files
    assert not {f for f in files if f.startswith(("tests/", "bench/", ".git/", "deploy/base/"))}
