"""What ``kb.run`` records by itself: code version, environment, command, person.

Each probe is best-effort and quick: a script outside git, or without nvidia-smi, still
logs its run, with the missing facts left unrecorded rather than guessed.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from kb.domain import CodeVersionRecord, EnvironmentRecord, limits
from kb.domain.text import escape_text

log = logging.getLogger(__name__)


def _git(*args: str, cwd: Path | None = None) -> str | None:
    if shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return out.stdout.strip() or None


def code_version(cwd: Path | None = None) -> CodeVersionRecord | None:
    """The repository, commit, branch and dirty flag of the working tree, if in git."""
    top = _git("rev-parse", "--show-toplevel", cwd=cwd)
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if top is None or commit is None:
        return None
    repo = _git("config", "--get", "remote.origin.url", cwd=cwd) or top
    branch = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return CodeVersionRecord(repo=repo, commit=commit, branch=branch, dirty=bool(status))


def git_user(cwd: Path | None = None) -> str | None:
    """A handle from git's configured e-mail (the part before '@')."""
    email = _git("config", "user.email", cwd=cwd)
    if email and "@" in email:
        return email.split("@", 1)[0].lower()
    return None


def current_person(configured: str | None) -> str:
    """The person to credit: configuration, else git's user, else the OS login."""
    return configured or git_user() or getpass.getuser()


def installed_packages() -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            seen[name.lower()] = dist.version
    return tuple(f"{name}=={version}" for name, version in sorted(seen.items()))


def accelerator() -> str | None:
    """GPU names from nvidia-smi when present; None on machines without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return ", ".join(names) or None


def environment() -> EnvironmentRecord:
    """The interpreter, platform and installed distributions, named by their digest."""
    packages = installed_packages()
    python = platform.python_version()
    plat = platform.platform()
    gpu = accelerator()
    h = hashlib.sha256()
    for part in (python, plat, gpu or "", *packages):
        h.update(part.encode())
        h.update(b"\n")
    return EnvironmentRecord(
        digest=f"sha256:{h.hexdigest()}", python=python, platform=plat, accelerator=gpu,
        packages=packages,
    )


def command_line() -> str:
    """The command that started this process, as a run's ``command`` can hold it."""
    argv = [os.path.basename(sys.executable), *sys.argv] if sys.argv and sys.argv[0] else []
    return escape_text(shlex.join(argv), limits.COMMAND)
