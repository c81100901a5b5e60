"""Finding Java and Maven on PATH, and checking they are fit to run Neo4j 5.26."""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
from pathlib import Path

from kb.errors import LocalDbError

log = logging.getLogger(__name__)

MIN_JAVA = 17
TESTED_JAVA = (17, 21)
NO_SERVER_HINT = "or set KB_NEO4J_URI to an existing server"
INSTALL_JAVA = (
    f"install Java {MIN_JAVA}+ (e.g. `apt-get install openjdk-17-jre-headless`) {NO_SERVER_HINT}"
)

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def parse_java_version(output: str) -> int | None:
    """The major version in ``java -version`` output: 'version "1.8.0_292"' is 8."""
    match = _VERSION.search(output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


@functools.cache
def _version_text(java: str) -> str:
    """What ``java -version`` prints, asked once per process and path: it is a JVM start,
    and a backup would otherwise pay it before each of its dump, load, count and start."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalDbError(f"`{java} -version` failed ({exc}). {INSTALL_JAVA}") from exc
    return (out.stderr or "") + (out.stdout or "")


def find_java() -> str:
    """The ``java`` on PATH, checked to be Java 17 or newer."""
    java = shutil.which("java")
    if java is None:
        raise LocalDbError(
            f"Java was not found on PATH; the local Neo4j runs on it. {INSTALL_JAVA}"
        )
    text = _version_text(java)
    major = parse_java_version(text)
    if major is None:
        raise LocalDbError(
            f"could not read the version of {java} (it printed {text.strip()[:200]!r}). "
            f"{INSTALL_JAVA}"
        )
    if major < MIN_JAVA:
        raise LocalDbError(
            f"Java {major} found at {java}, but Neo4j 5.26 needs Java {MIN_JAVA}+. "
            f"{INSTALL_JAVA}, and put it first on PATH"
        )
    if major not in TESTED_JAVA:
        log.warning("Java %s at %s; Neo4j 5.26 supports Java 17 and 21", major, java)
    return java


def compiler(java: str) -> list[str]:
    """The command that compiles the launcher with the same JDK as ``java``.

    A ``javac`` next to ``java`` is used when there is one; otherwise the compiler module
    that many JRE builds still carry (Debian's ``openjdk-17-jre-headless`` does).
    """
    javac = Path(java).resolve().parent / "javac"
    if javac.is_file():
        return [str(javac)]
    return [java, "-m", "jdk.compiler/com.sun.tools.javac.Main"]


def find_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalDbError(
            "Maven (`mvn`) was not found on PATH; it fetches Neo4j from Maven Central "
            "the first time. Install Maven 3.6+ (e.g. `apt-get install maven`) "
            f"{NO_SERVER_HINT}"
        )
    return mvn
