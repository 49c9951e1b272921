"""What the README promises about the repository itself: its picture of the package names
every package and module under src/kubetrail, and its test set-up installs what the tests
need."""

from __future__ import annotations

import re
from pathlib import Path

from tests.mcp.test_inspector import INSTALL as INSPECTOR_INSTALL

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "kubetrail"
README = (ROOT / "README.md").read_text()


def _layout_section() -> str:
    start = README.index("### Layout and layers")
    return README[start : README.index("**A real OpenSearch in every test run.**", start)]


def test_the_layout_picture_names_every_package_and_module() -> None:
    text = _layout_section()
    packages = sorted(
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))
    )
    missing_packages = [str(p) for p in packages if f"{p.name}/" not in text]
    assert not missing_packages, f"README's layout does not show: {missing_packages}"
    modules = sorted(
        p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"
    )
    missing_modules = [
        str(m) for m in modules if not re.search(rf"(?<![\w/]){re.escape(m.stem)}\b", text)
    ]
    assert not missing_modules, f"README's layout does not name: {missing_modules}"


def test_the_test_set_up_installs_the_mcp_inspector_the_tests_use() -> None:
    setup = README[README.index("**Run the tests**") : README.index("---")]
    assert INSPECTOR_INSTALL in setup
    assert "python -m pytest" in setup
    ci = (ROOT / ".ci" / "run").read_text()
    assert "--prefix .ci/node @modelcontextprotocol/inspector" in ci
