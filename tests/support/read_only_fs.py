"""Running a command with a directory on a real read-only file system.

Root ignores file modes, so ``chmod`` cannot make a store unwritable when the tests
run as root (CI containers, sandboxes). A bind mount of the directory onto itself,
remounted read-only, can: every write below it fails with EROFS, for root too. It
is made in a private mount namespace (``unshare --mount``), so only the command
sees it and it vanishes with the command. Without root the same works in a user
namespace (``--map-root-user``) where the kernel allows unprivileged ones.

Where neither works, :func:`read_only_runner` skips the test and says how to run it.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

# $1: the directory made read-only; $2: the working directory, entered again after the
# mount (a working directory entered before it still points below the writable mount)
_MOUNT_READ_ONLY = (
    'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && cd "$2" && shift 2 && exec "$@"'
)
_CANDIDATES = (("unshare", "--mount"), ("unshare", "--mount", "--map-root-user"))
_HOW = (
    "run the tests as root, in a container with CAP_SYS_ADMIN (docker run --privileged), or "
    "where unprivileged user namespaces are allowed (`unshare --mount --map-root-user true` "
    "must succeed; e.g. sysctl kernel.unprivileged_userns_clone=1)"
)


class ReadOnlyRunner:
    """Builds command lines that run with ``directory`` mounted read-only."""

    def __init__(self, unshare: Sequence[str]) -> None:
        self.unshare = tuple(unshare)

    def argv(
        self, directory: Path, command: Sequence[str], *, cwd: Path | None = None
    ) -> list[str]:
        return [
            *self.unshare,
            "sh",
            "-c",
            _MOUNT_READ_ONLY,
            "sh",
            str(directory),
            str(cwd or Path.cwd()),
            *command,
        ]

    def run(
        self,
        directory: Path,
        command: Sequence[str],
        *,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(directory, command, cwd=cwd),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
        )


@functools.cache
def _probe() -> tuple[tuple[str, ...] | None, str]:
    """The first ``unshare`` that makes a read-only mount here, or None and why not."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="kubetrail-ro-probe-") as tmp:
        for candidate in _CANDIDATES:
            runner = ReadOnlyRunner(candidate)
            write = ["sh", "-c", 'echo x > "$1/probe"', "sh", tmp]
            try:
                mounted = runner.run(Path(tmp), ["true"], timeout=30)
                written = runner.run(Path(tmp), write, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as exc:
                failures.append(f"`{' '.join(candidate)}`: {exc}")
                continue
            if mounted.returncode == 0 and written.returncode != 0:
                return candidate, ""
            detail = (mounted.stderr or written.stderr or "the directory stayed writable").strip()
            failures.append(f"`{' '.join(candidate)}`: {detail.splitlines()[-1]}")
            Path(tmp, "probe").unlink(missing_ok=True)
    return None, "; ".join(failures)


def read_only_runner() -> ReadOnlyRunner:
    """A runner for this machine, or skip the test saying why and how to run it."""
    unshare, why = _probe()
    if unshare is None:
        pytest.skip(f"needs a read-only mount, which this machine refused ({why}): {_HOW}")
    return ReadOnlyRunner(unshare)
