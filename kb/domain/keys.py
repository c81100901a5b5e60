"""Natural keys, entity references (``model:churn@7``) and opaque global ids.

One scheme names every entity, in the CLI, the SDK and GraphQL's ``node(id:)``::

    person:alice            team:vision
    dataset:customers       dataset:customers@2024-05
    model:churn             model:churn@7
    experiment:churn        run:<id>       deployment:<id>      note:<id>
    code:<repo>@<commit>    env:<digest>

A bare name (no ``kind:``) is read with a default kind that each command states.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from kb.errors import InvalidInput

from .labels import Label

KIND_LABEL: dict[str, Label] = {
    "person": Label.PERSON,
    "team": Label.TEAM,
    "dataset": Label.DATASET,
    "experiment": Label.EXPERIMENT,
    "run": Label.RUN,
    "code": Label.CODE_VERSION,
    "env": Label.ENVIRONMENT,
    "model": Label.MODEL,
    "deployment": Label.DEPLOYMENT,
    "note": Label.NOTE,
}
LABEL_KIND: dict[Label, str] = {label: kind for kind, label in KIND_LABEL.items()}
LABEL_KIND[Label.DATASET_VERSION] = "dataset"
LABEL_KIND[Label.MODEL_VERSION] = "model"
_VERSIONED = {Label.DATASET: Label.DATASET_VERSION, Label.MODEL: Label.MODEL_VERSION}


def versioned_key(name: str, version: str) -> str:
    """The derived key of a composite (name, version) entity."""
    return f"{name}@{version}"


def split_versioned(key: str) -> tuple[str, str]:
    name, sep, version = key.rpartition("@")
    if not sep or not name or not version:
        raise InvalidInput("key", "expected NAME@VERSION", key)
    return name, version


@dataclass(frozen=True)
class Ref:
    """A reference to one entity by label and natural key."""

    label: Label
    key: str

    def __str__(self) -> str:
        return f"{LABEL_KIND[self.label]}:{self.key}"

    @property
    def name(self) -> str:
        return split_versioned(self.key)[0] if self.label in _VERSIONED.values() else self.key

    @property
    def version(self) -> str | None:
        return split_versioned(self.key)[1] if self.label in _VERSIONED.values() else None


def parse_ref(text: str, *, default: str | None = None, field: str = "entity") -> Ref:
    """Read ``kind:name[@version]``; ``default`` is the kind of a bare name."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(field, "must be a non-empty entity name like model:churn@7", text)
    kind, sep, rest = text.partition(":")
    if sep and kind in KIND_LABEL and rest:
        label = KIND_LABEL[kind]
    elif sep and rest and kind.isidentifier() and default is not None:
        # ``foo:bar`` is a mistyped kind far more often than a name with a colon in it.
        kinds = ", ".join(sorted(KIND_LABEL))
        raise InvalidInput(field, f"{kind!r} is not a kind of entity; use one of {kinds} "
                           f"(a {default} whose name has a colon: {default}:{text})", text)
    elif default is not None:
        label, rest = KIND_LABEL[default], text
    else:
        kinds = ", ".join(sorted(KIND_LABEL))
        raise InvalidInput(field, f"must start with one of {kinds} followed by ':'", text)
    if label in _VERSIONED and "@" in rest:
        name, version = split_versioned(rest)
        return Ref(_VERSIONED[label], versioned_key(name, version))
    return Ref(label, rest)


# ``label.value`` is an enum descriptor lookup; answers make ids by the hundred.
_ID_PREFIX: dict[Label, str] = {label: f"{label.value}:" for label in Label}
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def to_global_id(label: Label, key: str) -> str:
    """An opaque, URL-safe id for GraphQL's Node interface: unpadded URL-safe base64 of
    ``label:key``."""
    raw = f"{_ID_PREFIX[label]}{key}".encode()
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def from_global_id(gid: str) -> Ref:
    try:
        padded = gid + "=" * (-len(gid) % 4)
        label_text, sep, key = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        label = Label(label_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("id", "is not a kb node id", gid) from None
    if not sep or not key:
        raise InvalidInput("id", "is not a kb node id", gid)
    return Ref(label, key)
