"""Files taken from npm packages with ``npm pack``: the browser assets kb serves itself
(the site's scripts, GraphiQL), so that a page works on a machine with no internet access.

``npm pack`` fetches the package tarball from the configured registry and checks it against
the registry's integrity hash; only the named members are kept.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

PACK_SECONDS = 300


class NpmError(Exception):
    """npm is missing, the package could not be fetched, or it lacks a member."""


def extract(spec: str, members: Mapping[str, Path]) -> None:
    """Write each ``members`` entry (a path inside the tarball, e.g. ``package/x.js``) of
    the package ``spec`` (``name@version``) to its target; a target is replaced whole or
    not at all. Raises NpmError with the reason."""
    npm = shutil.which("npm")
    if npm is None:
        raise NpmError("npm is not installed (it fetches the package from the registry)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            out = subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, check=True,
                                 capture_output=True, text=True, timeout=PACK_SECONDS)
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
            raise NpmError(f"npm pack {spec} failed: {detail[0]}") from None
        except (subprocess.SubprocessError, OSError) as exc:
            raise NpmError(f"npm pack {spec} failed: {exc}") from None
        names = out.stdout.strip().splitlines()
        if not names:
            raise NpmError(f"npm pack {spec} wrote no tarball")
        with tarfile.open(Path(tmp) / names[-1]) as tar:
            for member, target in members.items():
                try:
                    source = tar.extractfile(tar.getmember(member))
                except KeyError:
                    source = None
                if source is None:
                    raise NpmError(f"{spec} holds no file {member}")
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".part")
                partial.write_bytes(source.read())
                partial.replace(target)
    log.info("took %s from npm %s", ", ".join(members), spec)
