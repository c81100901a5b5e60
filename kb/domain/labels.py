"""The closed sets of node labels and relationship types.

Cypher text is only ever built from these enums, never from caller input. What each
label holds and which links it allows is ``model.py``.
"""

from __future__ import annotations

from enum import StrEnum


class Label(StrEnum):
    PERSON = "Person"
    TEAM = "Team"
    DATASET = "Dataset"
    DATASET_VERSION = "DatasetVersion"
    EXPERIMENT = "Experiment"
    RUN = "Run"
    CODE_VERSION = "CodeVersion"
    ENVIRONMENT = "Environment"
    MODEL = "Model"
    MODEL_VERSION = "ModelVersion"
    DEPLOYMENT = "Deployment"
    NOTE = "Note"


class Rel(StrEnum):
    MEMBER_OF = "MEMBER_OF"
    OWNS = "OWNS"
    TRAINED = "TRAINED"
    PART_OF = "PART_OF"
    CHILD_OF = "CHILD_OF"
    USED = "USED"
    PRODUCED = "PRODUCED"
    VERSION_OF = "VERSION_OF"
    AT_COMMIT = "AT_COMMIT"
    IN_ENV = "IN_ENV"
    SERVES = "SERVES"
    DEPLOYED = "DEPLOYED"
    WROTE = "WROTE"
    ABOUT = "ABOUT"
    #: A model's alias (``champion``) held by one of its versions from ``since`` to ``until``.
    ALIAS = "ALIAS"


#: The record of one write to one entity (``kb.domain.changes``); kept apart from
#: ``Label`` because it is not an entity: nothing links to it, notes cannot be about it,
#: and it outlives what it describes.
CHANGE_LABEL = "Change"


#: Assets that can be owned, in the order a bare name is resolved ("churn" is the model
#: ``churn`` if there is one, else the dataset, else the experiment).
OWNABLE: tuple[Label, ...] = (Label.MODEL, Label.DATASET, Label.EXPERIMENT, Label.DEPLOYMENT)
OWNERS: tuple[Label, ...] = (Label.PERSON, Label.TEAM)


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


class DeploymentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


class InputRole(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"
    OTHER = "other"


class RunSource(StrEnum):
    """Who wrote a run: each names runs by ids of its own making (kb.graph.run_sources)."""

    SDK = "sdk"
    CLI = "cli"
    API = "api"
    OPENLINEAGE = "openlineage"
    MLFLOW = "mlflow"
