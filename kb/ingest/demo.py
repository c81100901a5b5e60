"""A year of a fictional ML team's history, loaded through the ordinary write path.

Three teams (growth, search, vision) and two people who have left; 30 datasets with
quarterly versions derived raw -> clean -> joined -> features -> splits; 500 runs over 10
experiments with their code, environments and inputs; 15 models with versions produced by
those runs; staging and production deployments, some retired; ownership with a transfer;
and notes. Everything comes from ``random.Random(seed)`` and fixed timestamps, every id is
derived from names, and each batch is stamped with a fixed ``now``, so loading it twice
changes nothing and two loads with one seed give the same graph.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kb.domain import Batch
from kb.graph import Graph
from kb.graph.stats import counts

from .builder import BatchBuilder
from .client import Client

log = logging.getLogger(__name__)

DEFAULT_SEED = 7
DEMO_ACTOR = "kb-demo"
#: The ``now`` stamped on the demo's writes (createdAt/updatedAt), fixed for repeatability.
LOADED_AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
RUNS_PER_BATCH = 250

_YEAR_START = datetime(2024, 1, 10, 8, 0, tzinfo=UTC)
#: When the team, its people and its datasets were first recorded.
_FOUNDED = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
_YEAR_DAYS = 345  # runs start between 2024-01-10 and 2024-12-20
_VERSIONS = ("2024-01", "2024-04", "2024-07", "2024-10")
_STAGES = ("raw", "clean", "joined", "features", "split")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _hex(text: str, length: int = 40) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:length]


# -- the organisation -------------------------------------------------------------------
TEAMS = {
    "growth": "Customer growth: churn, lifetime value and retention offers.",
    "search": "Search and NLP: ranking, query understanding, autocomplete.",
    "vision": "Computer vision for the product catalogue: classification, defects, embeddings.",
}

# handle, full name, teams, left_at (None while still here)
PEOPLE: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("dana", "Dana Okafor", ("growth",), "2024-10-15"),
    ("lee", "Lee Park", ("growth",), None),
    ("maria", "Maria Santos", ("growth",), None),
    ("tom", "Tom Becker", ("growth",), None),
    ("aisha", "Aisha Khan", ("growth",), None),
    ("jonas", "Jonas Weber", ("growth",), None),
    ("priya", "Priya Nair", ("growth", "search"), None),
    ("sam", "Sam O'Connor", ("growth",), None),
    ("ravi", "Ravi Iyer", ("search",), None),
    ("elena", "Elena Petrova", ("search",), None),
    ("mark", "Mark Chen", ("search",), None),
    ("sofia", "Sofia Rossi", ("search",), None),
    ("kenji", "Kenji Tanaka", ("search",), None),
    ("nora", "Nora Lind", ("search",), None),
    ("felix", "Felix Braun", ("search",), None),
    ("zoe", "Zoe Martin", ("search",), None),
    ("omar", "Omar Haddad", ("vision",), "2024-11-29"),
    ("chloe", "Chloe Dubois", ("vision",), None),
    ("ivan", "Ivan Novak", ("vision",), None),
    ("mei", "Mei Wong", ("vision",), None),
    ("lucas", "Lucas Silva", ("vision",), None),
    ("hana", "Hana Sato", ("vision",), None),
    ("peter", "Peter Kowalski", ("vision",), None),
    ("grace", "Grace Kim", ("vision",), None),
)
_LEFT = {h: _at(left) for h, _, _, left in PEOPLE if left}


def _members(team: str) -> list[str]:
    return [h for h, _, teams, _ in PEOPLE if team in teams]


def _active(handle: str, when: datetime) -> bool:
    return handle not in _LEFT or when < _LEFT[handle]


# -- data -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    name: str
    team: str
    stage: str
    description: str
    sources: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    rows: int = 100_000
    steward: str | None = None
    datasheet: dict[str, str] = field(default_factory=dict)


def _team_data(team: str, domain: str, names: dict[str, str], fields: dict[str, tuple],
               rows: int, steward: str, reference_steward: str) -> list[DatasetSpec]:
    """Ten datasets of one team: two raw feeds and a reference set, cleaned, joined,
    turned into features and split three ways."""
    n = names
    return [
        DatasetSpec(n["raw_a"], team, "raw", f"Daily export of {domain} records, untouched.",
                    fields=fields["a"], rows=rows, steward=steward, datasheet={
                        "motivation": f"The system of record for {domain}; every model of "
                                      f"the {team} team starts here.",
                        "collection": "Nightly export from the production database; no "
                                      "sampling.",
                        "maintenance": f"Owned by the {team} team; exported daily, versioned "
                                       "quarterly.",
                    }),
        DatasetSpec(n["raw_b"], team, "raw", f"Event stream behind the {domain} product.",
                    fields=fields["b"], rows=rows * 20, steward=steward),
        DatasetSpec(n["reference"], team, "raw", "Hand-curated reference data and labels.",
                    fields=fields["ref"], rows=max(rows // 50, 500),
                    steward=reference_steward, datasheet={
                        "composition": "Labels written by the team's annotators, two per item.",
                        "collection": "Annotation tool exports, reviewed weekly.",
                        "uses": "Evaluation and supervision only; never a feature.",
                    }),
        DatasetSpec(n["clean_a"], team, "clean", f"{n['raw_a']} deduplicated, PII removed.",
                    (n["raw_a"],), fields["a"], rows=int(rows * 0.93)),
        DatasetSpec(n["clean_b"], team, "clean", f"{n['raw_b']} with bots and test traffic "
                    "removed.", (n["raw_b"],), fields["b"], rows=rows * 17),
        DatasetSpec(n["joined"], team, "joined", "One row per entity and day, joined across "
                    "the cleaned feeds and the reference labels.",
                    (n["clean_a"], n["clean_b"], n["reference"]),
                    fields["a"] + fields["ref"], rows=rows),
        DatasetSpec(n["features"], team, "features", f"Model-ready features for {domain}.",
                    (n["joined"],), fields["features"], rows=rows, datasheet={
                        "preprocessing": "Numeric features winsorised at the 1st/99th "
                                         "percentile; categories hashed to 2^18 buckets.",
                        "uses": f"Training and evaluating the {team} team's models.",
                    }),
        DatasetSpec(n["train"], team, "split", "Training split (80%), by entity id hash.",
                    (n["features"],), fields["features"], rows=int(rows * 0.8), datasheet={
                        "composition": "80% of entities, split by a stable hash of the id "
                                       "so an entity never crosses splits.",
                        "distribution": "Internal only.",
                    }),
        DatasetSpec(n["validation"], team, "split", "Validation split (10%).",
                    (n["features"],), fields["features"], rows=rows // 10),
        DatasetSpec(n["test"], team, "split", "Held-out test split (10%); touch it once.",
                    (n["features"],), fields["features"], rows=rows // 10),
    ]


DATASETS: tuple[DatasetSpec, ...] = (
    *_team_data(
        "growth", "customers",
        {"raw_a": "crm_customers", "raw_b": "app_events", "reference": "churn_labels",
         "clean_a": "customers_clean", "clean_b": "events_clean", "joined": "customer_activity",
         "features": "churn_features", "train": "churn_train", "validation": "churn_validation",
         "test": "churn_test"},
        {"a": (("customer_id", "string"), ("plan", "string"), ("seats", "int"),
               ("signup_date", "date")),
         "b": (("customer_id", "string"), ("event", "string"), ("ts", "timestamp")),
         "ref": (("customer_id", "string"), ("churned", "bool")),
         "features": (("customer_id", "string"), ("tenure_months", "int"),
                      ("sessions_30d", "int"), ("seats", "int"), ("churned", "bool"))},
        rows=240_000, steward="dana", reference_steward="dana"),
    *_team_data(
        "search", "search queries",
        {"raw_a": "query_logs", "raw_b": "click_logs", "reference": "relevance_judgments",
         "clean_a": "queries_clean", "clean_b": "clicks_clean", "joined": "query_click_pairs",
         "features": "ranking_features", "train": "ranking_train",
         "validation": "ranking_validation", "test": "ranking_test"},
        {"a": (("query_id", "string"), ("query", "string"), ("locale", "string")),
         "b": (("query_id", "string"), ("doc_id", "string"), ("position", "int")),
         "ref": (("query_id", "string"), ("doc_id", "string"), ("grade", "int")),
         "features": (("query_id", "string"), ("doc_id", "string"), ("bm25", "float"),
                      ("ctr_7d", "float"), ("grade", "int"))},
        rows=1_500_000, steward="ravi", reference_steward="mark"),
    *_team_data(
        "vision", "product photos",
        {"raw_a": "product_photos", "raw_b": "catalog_metadata", "reference": "human_labels",
         "clean_a": "photos_clean", "clean_b": "catalog_clean", "joined": "labeled_products",
         "features": "image_embeddings", "train": "vision_train",
         "validation": "vision_validation", "test": "vision_test"},
        {"a": (("image_id", "string"), ("uri", "string"), ("width", "int"),
               ("height", "int")),
         "b": (("sku", "string"), ("category", "string"), ("image_id", "string")),
         "ref": (("image_id", "string"), ("label", "string"), ("defect", "bool")),
         "features": (("image_id", "string"), ("embedding", "float[512]"),
                      ("label", "string"))},
        rows=400_000, steward="omar", reference_steward="omar"),
)
_DOMAIN = {"growth": "customers", "search": "search", "vision": "catalogue images"}
_SPLITS = {team: {s.name.rsplit("_", 1)[1]: s.name for s in DATASETS
                  if s.team == team and s.stage == "split"} for team in TEAMS}


# -- experiments and models ---------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    description: str
    intended_use: str
    limitations: str
    owner: str
    versions: int
    staging: bool = False
    production: bool = False
    license: str = "proprietary"


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    team: str
    family: str
    description: str
    owner: str
    script: str
    models: tuple[ModelSpec, ...]


def _m(name: str, task: str, description: str, intended_use: str, limitations: str,
       owner: str, versions: int, *, staging: bool = False, production: bool = False
       ) -> ModelSpec:
    return ModelSpec(name, task, description, intended_use, limitations, owner, versions,
                     staging, production)


EXPERIMENTS: tuple[ExperimentSpec, ...] = (
    ExperimentSpec("churn-gbm", "growth", "gbm", "Gradient-boosted churn prediction.", "dana",
                   "train_churn.py", (
        _m("churn", "binary classification", "Probability that a customer cancels within "
           "90 days.", "Ranking accounts for the retention team's weekly outreach.",
           "Trained on self-serve accounts; under-predicts churn for enterprise accounts.",
           "dana", 5, staging=True, production=True),
        _m("churn-explainer", "explanation", "Per-account SHAP explanations of the churn "
           "score.", "Showing account managers why an account is at risk.",
           "Explanations are local and approximate; not causal.", "dana", 3, staging=True),
    )),
    ExperimentSpec("churn-baseline", "growth", "linear", "Logistic-regression baseline the "
                   "boosted models must beat.", "lee", "train_baseline.py", (
        _m("win-back", "binary classification", "Likelihood that a churned customer returns "
           "after an offer.", "Choosing who receives win-back offers.",
           "Only calibrated for offers of 20-40% discount.", "lee", 2),
    )),
    ExperimentSpec("ltv-regression", "growth", "gbm_reg", "Twelve-month customer lifetime "
                   "value.", "dana", "train_ltv.py", (
        _m("ltv", "regression", "Predicted 12-month revenue per account.", "Budgeting "
           "acquisition spend per segment.", "Poor for accounts younger than 30 days.",
           "dana", 4, staging=True, production=True),
        _m("upsell-propensity", "binary classification", "Propensity to upgrade plan within "
           "60 days.", "Prioritising upsell campaigns.", "Ignores seasonal promotions.",
           "maria", 3, staging=True),
    )),
    ExperimentSpec("ranker-ltr", "search", "ltr", "Learning-to-rank for product search.",
                   "mark", "train_ranker.py", (
        _m("ranker", "learning to rank", "LambdaMART ranker over BM25 candidates.", "Ordering "
           "the top 100 search results.", "Cold-start products rank low for two weeks.",
           "mark", 5, staging=True, production=True),
        _m("autocomplete", "sequence completion", "Query autocomplete from query logs.",
           "Suggesting completions in the search box.", "English and German only.", "kenji",
           2),
    )),
    ExperimentSpec("query-intent", "search", "nn", "Classifying query intent (navigational, "
                   "product, support).", "elena", "train_intent.py", (
        _m("query-intent", "text classification", "Intent of a search query.", "Routing "
           "support queries away from product search.", "Short queries (1 token) are often "
           "ambiguous.", "elena", 4, staging=True, production=True),
        _m("spell-correct", "sequence to sequence", "Query spelling correction.", "Rewriting "
           "misspelled queries before retrieval.", "Brand names are sometimes 'corrected'.",
           "sofia", 2),
    )),
    ExperimentSpec("query-embedding", "search", "nn", "Dense query embeddings for semantic "
                   "retrieval.", "ravi", "train_embed.py", (
        _m("query-embedding", "embedding", "Bi-encoder query embeddings (384-d).", "Semantic "
           "candidate retrieval.", "Embeddings change meaning across versions; re-index on "
           "upgrade.", "ravi", 3, staging=True, production=True),
    )),
    ExperimentSpec("product-classifier", "vision", "cnn", "Product category from the main "
                   "photo.", "chloe", "train_classifier.py", (
        _m("product-classifier", "image classification", "Category of a product from its "
           "photo (412 classes).", "Suggesting categories to sellers at listing time.",
           "Weak on the long tail (< 50 images per class).", "chloe", 4, staging=True,
           production=True),
    )),
    ExperimentSpec("defect-detection", "vision", "cnn", "Detecting damaged items in returns "
                   "photos.", "omar", "train_defects.py", (
        _m("defect-detector", "object detection", "Boxes around visible damage.", "Triaging "
           "returned items in the warehouse.", "Not validated on reflective packaging.",
           "omar", 3, staging=True, production=True),
    )),
    ExperimentSpec("image-embedding", "vision", "cnn", "Image embeddings for visual search "
                   "and deduplication.", "mei", "train_embedder.py", (
        _m("image-embedder", "embedding", "Image embeddings (512-d) for similarity search.",
           "Visual search and duplicate-listing detection.", "Not comparable across "
           "versions.", "mei", 3, staging=True, production=True),
        _m("background-remover", "segmentation", "Foreground mask of a product photo.",
           "Cleaning seller photos.", "Fails on transparent objects.", "omar", 2,
           staging=True, production=True),
    )),
    ExperimentSpec("photo-quality", "vision", "cnn", "Scoring photo quality (blur, light, "
                   "framing).", "omar", "train_quality.py", (
        _m("photo-quality", "regression", "Photo quality score from 0 to 1.", "Nudging sellers "
           "to retake poor photos.", "Scores drift with new phone cameras.", "omar", 2),
    )),
)
RUNS_PER_EXPERIMENT = 50
_REPO = {"growth": "github.com/acme/growth-models", "search": "github.com/acme/search-ml",
         "vision": "github.com/acme/vision"}
_FRAMEWORK = {"gbm": "xgboost", "gbm_reg": "lightgbm", "linear": "scikit-learn",
              "ltr": "lightgbm", "nn": "pytorch", "cnn": "pytorch"}
_ERRORS = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
    "(GPU 0; 22.19 GiB total capacity)",
    "KeyError: 'tenure_months' (column missing from the input frame)",
    "ValueError: Input contains NaN, infinity or a value too large for dtype('float32').",
    "RuntimeError: DataLoader worker (pid 4121) is killed by signal: Killed.",
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the "
    "GetObject operation",
    "AssertionError: validation set overlaps the training set (1,204 shared ids)",
)


# -- environments ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EnvSpec:
    python: str
    platform: str
    accelerator: str | None
    packages: tuple[str, ...]

    @property
    def digest(self) -> str:
        text = "\n".join([self.python, self.platform, self.accelerator or "", *self.packages])
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


ENVIRONMENTS = {
    "cpu": EnvSpec("3.11.9", "linux-x86_64", None, (
        "numpy==1.26.4", "pandas==2.2.2", "scikit-learn==1.4.2", "xgboost==2.0.3",
        "lightgbm==4.3.0", "shap==0.45.0")),
    "gpu-2023": EnvSpec("3.10.13", "linux-x86_64", "cuda-11.8 A10G", (
        "numpy==1.24.4", "torch==2.0.1", "torchvision==0.15.2", "timm==0.9.2",
        "transformers==4.30.2")),
    "gpu-2024": EnvSpec("3.11.9", "linux-x86_64", "cuda-12.1 A100", (
        "numpy==1.26.4", "torch==2.3.1", "torchvision==0.18.1", "timm==1.0.7",
        "transformers==4.42.3", "sentence-transformers==3.0.1")),
}
_GPU_UPGRADE = _at("2024-06-01")


def _environment(family: str, when: datetime) -> str:
    if family in ("gbm", "gbm_reg", "linear", "ltr"):
        return "cpu"
    return "gpu-2023" if when < _GPU_UPGRADE else "gpu-2024"


# -- params and metrics ---------------------------------------------------------------------
def _params(family: str, rng: random.Random) -> dict[str, Any]:
    if family in ("gbm", "gbm_reg", "ltr"):
        params: dict[str, Any] = {
            "learning_rate": rng.choice([0.01, 0.03, 0.05, 0.1]),
            "max_depth": rng.randint(3, 10), "n_estimators": rng.choice([200, 500, 1000]),
            "subsample": rng.choice([0.7, 0.8, 0.9, 1.0]),
            "colsample_bytree": rng.choice([0.6, 0.8, 1.0]),
            "min_child_weight": rng.randint(1, 10), "early_stopping_rounds": 50,
        }
        params["objective"] = {"gbm": "binary:logistic", "gbm_reg": "regression",
                               "ltr": "lambdarank"}[family]
        return params
    if family == "linear":
        return {"C": rng.choice([0.01, 0.1, 1.0, 10.0]), "penalty": rng.choice(["l1", "l2"]),
                "class_weight": rng.choice(["balanced", "none"]), "max_iter": 1000,
                "solver": "saga"}
    return {
        "learning_rate": rng.choice([1e-4, 3e-4, 1e-3]), "batch_size": rng.choice([64, 128, 256]),
        "epochs": rng.choice([10, 20, 30]), "optimizer": rng.choice(["adamw", "sgd"]),
        "weight_decay": rng.choice([0.0, 0.01, 0.05]), "dropout": rng.choice([0.0, 0.1, 0.2]),
        "backbone": rng.choice(["resnet50", "convnext_tiny", "efficientnet_b3"]
                               if family == "cnn" else ["minilm-l6", "bert-base", "e5-small"]),
        "warmup_steps": rng.choice([0, 500, 1000]), "mixed_precision": rng.random() < 0.7,
    }


_METRICS: dict[str, tuple[tuple[str, float, float], ...]] = {
    # name, value at the start of the year, gain over the year (negative: lower is better)
    "gbm": (("auc", 0.81, 0.06), ("accuracy", 0.86, 0.03), ("f1", 0.52, 0.08),
            ("log_loss", 0.39, -0.06)),
    "linear": (("auc", 0.77, 0.02), ("accuracy", 0.83, 0.01), ("f1", 0.44, 0.03)),
    "gbm_reg": (("rmse", 410.0, -60.0), ("mae", 240.0, -35.0), ("r2", 0.58, 0.09)),
    "ltr": (("ndcg@10", 0.62, 0.07), ("mrr", 0.55, 0.06), ("recall@100", 0.88, 0.04)),
    "nn": (("accuracy", 0.84, 0.06), ("f1", 0.79, 0.07), ("val_loss", 0.48, -0.12)),
    "cnn": (("top1_accuracy", 0.71, 0.09), ("top5_accuracy", 0.89, 0.05),
            ("mAP", 0.41, 0.12), ("val_loss", 0.92, -0.25)),
}


def _metrics(family: str, progress: float, rng: random.Random) -> dict[str, float]:
    return {name: round(start + gain * progress + rng.gauss(0, abs(gain) * 0.15 + 0.004), 4)
            for name, start, gain in _METRICS[family]}


# -- the plan of the year -----------------------------------------------------------------
@dataclass
class _Run:
    id: str
    experiment: ExperimentSpec
    person: str
    started_at: datetime
    ended_at: datetime
    status: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class DemoBatch:
    """One transaction of the demo: what it writes, and the ``now`` it is stamped with."""

    name: str
    builder: BatchBuilder
    now: datetime = LOADED_AT


def _version_date(version: str) -> datetime:
    return _at(f"{version}-02T06:00:00")


def _version_for(when: datetime) -> str:
    usable = [v for v in _VERSIONS if _version_date(v) + timedelta(days=7) <= when]
    return usable[-1] if usable else _VERSIONS[0]


def _organisation(b: BatchBuilder) -> None:
    for name, description in TEAMS.items():
        b.team(name, description=description)
    for handle, full_name, teams, left in PEOPLE:
        email = full_name.lower().replace("'", "").replace(" ", ".") + "@acme.example"
        b.person(handle, name=full_name, email=email, team=list(teams),
                 active=left is None, left_at=_at(left) if left else None)
    for spec in DATASETS:
        b.dataset(spec.name, description=spec.description, domain=_DOMAIN[spec.team],
                  license="internal", datasheet=spec.datasheet)
    for exp in EXPERIMENTS:
        b.experiment(exp.name, description=exp.description)
        for m in exp.models:
            b.model(m.name, description=m.description, task=m.task,
                    intended_use=m.intended_use, limitations=m.limitations, license=m.license)


def _data(b: BatchBuilder, rng: random.Random) -> None:
    for quarter, version in enumerate(_VERSIONS):
        for spec in DATASETS:
            rows = int(spec.rows * (1 + 0.08 * quarter) * rng.uniform(0.97, 1.03))
            created = _version_date(version) + timedelta(days=_STAGES.index(spec.stage))
            b.dataset_version(
                spec.name, version,
                uri=f"s3://acme-ml-data/{spec.team}/{spec.name}/{version}/",
                digest="sha256:" + hashlib.sha256(f"{spec.name}@{version}".encode()).hexdigest(),
                rows=rows, created_at=created,
                schema=[{"name": n, "type": t} for n, t in spec.fields],
                derived_from=[(src, version) for src in spec.sources],
            )


def _plan_runs(rng: random.Random, seed: int) -> list[_Run]:
    runs: list[_Run] = []
    for exp_index, exp in enumerate(EXPERIMENTS):
        starts = sorted(_YEAR_START + timedelta(seconds=rng.uniform(0, _YEAR_DAYS * 86400))
                        for _ in range(RUNS_PER_EXPERIMENT))
        team = _members(exp.team)
        repo = _REPO[exp.team]
        for i, start in enumerate(starts):
            start = start.replace(microsecond=0)
            person = rng.choice([h for h in team if _active(h, start)])
            roll = rng.random()
            status = "FAILED" if roll < 0.09 else "ABORTED" if roll < 0.11 else "COMPLETED"
            minutes = rng.uniform(8, 45) if exp.family in ("linear", "gbm", "gbm_reg") \
                else rng.uniform(40, 400)
            if status != "COMPLETED":
                minutes *= rng.uniform(0.05, 0.6)
            ended = start + timedelta(minutes=round(minutes, 1))
            progress = (start - _YEAR_START).total_seconds() / (_YEAR_DAYS * 86400)
            params = _params(exp.family, rng)
            metrics = _metrics(exp.family, progress, rng) if status == "COMPLETED" else {}
            run_id = _hex(f"demo:{seed}:{exp.name}:{i}", 32)
            fortnight = (start - _YEAR_START).days // 14
            branch = "main" if rng.random() < 0.8 else f"exp/{exp.name}-{fortnight}"
            commit = _hex(f"{repo}:{branch}:{fortnight}")
            env = ENVIRONMENTS[_environment(exp.family, start)]
            version = _version_for(start)
            splits = _SPLITS[exp.team]
            flags = " ".join(f"--{k}={v}" for k, v in list(params.items())[:3])
            fields: dict[str, Any] = {
                "name": f"{exp.name}-{i + 1:03d}",
                "experiment": exp.name,
                "person": person,
                "status": status,
                "started_at": start,
                "ended_at": ended,
                "params": params,
                "metrics": metrics,
                "seed": rng.randrange(2**31),
                "command": f"python {exp.script} --data {version} {flags}",
                "tracker_url": f"https://mlflow.acme.example/#/experiments/{exp_index + 1}"
                               f"/runs/{run_id}",
                "error": rng.choice(_ERRORS) if status == "FAILED" else None,
                "code": {"repo": repo, "commit": commit, "branch": branch,
                         "dirty": rng.random() < 0.05},
                "environment": {"digest": env.digest, "python": env.python,
                                "platform": env.platform, "accelerator": env.accelerator,
                                "packages": list(env.packages)},
                "inputs": [(splits["train"], version, "train"),
                           (splits["validation"], version, "validation"),
                           (splits["test"], version, "test")],
            }
            runs.append(_Run(run_id, exp, person, start, ended, status, fields))
    return runs


@dataclass(frozen=True)
class _Version:
    model: ModelSpec
    team: str
    version: int
    run: _Run

    @property
    def ready_at(self) -> datetime:
        return self.run.ended_at


def _plan_versions(runs: list[_Run], rng: random.Random) -> list[_Version]:
    """Pick, per model, the completed runs that produced its versions, oldest first."""
    versions: list[_Version] = []
    for exp in EXPERIMENTS:
        pool = [r for r in runs if r.experiment is exp and r.status == "COMPLETED"]
        taken: set[int] = set()
        for m in exp.models:
            free = [i for i in range(len(pool)) if i not in taken]
            # Versions come from the later part of the year so that deployments follow.
            later = free[len(free) // 4:]
            chosen = sorted(rng.sample(later, m.versions))
            taken.update(chosen)
            versions.extend(_Version(m, exp.team, n + 1, pool[i]) for n, i in enumerate(chosen))
    return versions


@dataclass(frozen=True)
class _Deployment:
    id: str
    version: _Version
    environment: str
    by: str
    at: datetime


def _deployer(v: _Version, when: datetime, rng: random.Random) -> str:
    if _active(v.run.person, when):
        return v.run.person
    return rng.choice([h for h in _members(v.team) if _active(h, when)])


def _plan_deployments(versions: list[_Version], rng: random.Random) -> list[_Deployment]:
    """Per model: the two latest versions to staging, the one before last (and for some
    the last) to production, so every newer deployment retires the one it replaces."""
    out: list[_Deployment] = []
    by_model: dict[str, list[_Version]] = {}
    for v in versions:
        by_model.setdefault(v.model.name, []).append(v)
    for name, vs in by_model.items():
        spec = vs[0].model
        prev, last = vs[-2], vs[-1]
        if spec.staging:
            for v in (prev, last):
                at = v.ready_at + timedelta(hours=20)
                out.append(_Deployment(f"dep-{name}-staging-v{v.version}", v, "staging",
                                       _deployer(v, at, rng), at))
        if spec.production:
            rollout = [prev, last] if len(vs) >= 4 or name == "ranker" else [prev]
            for v in rollout:
                at = v.ready_at + timedelta(days=6, hours=3)
                out.append(_Deployment(f"dep-{name}-production-v{v.version}", v,
                                       "production", _deployer(v, at, rng), at))
    return out


#: Decommissioned by hand, not replaced: its production deployment is retired explicitly.
DECOMMISSIONED = "background-remover"


def _aliases(v: _Version, versions: list[_Version], deployments: list[_Deployment]
             ) -> list[str]:
    mine = [x for x in versions if x.model is v.model]
    aliases = ["champion"] if v is mine[-1] else []
    for env in ("staging", "production"):
        served = [d.version for d in deployments
                  if d.environment == env and d.version.model is v.model]
        if served and served[-1] is v and not (env == "production" and
                                               v.model.name == DECOMMISSIONED):
            aliases.append(env)
    return aliases


def _notes(b: BatchBuilder, runs: list[_Run], versions: list[_Version],
           deployments: list[_Deployment]) -> None:
    churn = [v for v in versions if v.model.name == "churn"]
    failed = next(r for r in runs if r.status == "FAILED" and r.experiment.family == "cnn")
    ranker = [d for d in deployments
              if d.version.model.name == "ranker" and d.environment == "production"][-1]
    notes: list[tuple[str, str, datetime, str]] = [
        ("model:churn", "lee", _at("2024-06-12T10:00:00"),
         "**Caveat.** Under-predicts churn for enterprise accounts (fewer than 200 in the "
         "training data). Do not use the score for accounts with more than 500 seats."),
        (f"model:churn@{churn[-1].version}", "lee", churn[-1].ready_at + timedelta(days=2),
         f"**Decision.** Promoted v{churn[-1].version} over v{churn[-2].version}: better AUC "
         "on `churn_test`, same calibration. Reviewed with the retention team."),
        ("dataset:app_events", "maria", _at("2024-02-20T09:15:00"),
         "**Caveat.** Events before 2024-02-01 have no `session_id`; sessions_30d is "
         "undercounted for January."),
        ("dataset:churn_features@2024-07", "dana", _at("2024-07-09T11:00:00"),
         "From this version `tenure_months` is capped at 120 (a handful of legacy accounts "
         "had 600+)."),
        (f"deployment:{ranker.id}", "elena", ranker.at + timedelta(hours=1),
         "**Incident.** p99 latency rose to 900 ms an hour after the rollout; the feature "
         "cache TTL was too short. Fixed by raising it to 15 minutes; no rollback needed."),
        (f"run:{failed.id}", "chloe", failed.ended_at + timedelta(hours=2),
         "Failed on the GPU: batch size too large for this backbone. Use 128."),
        ("experiment:defect-detection", "omar", _at("2024-05-21T14:00:00"),
         "**Decision.** Switched the backbone to convnext_tiny: same mAP, half the latency "
         "on the warehouse scanners."),
        ("model:image-embedder", "mei", _at("2024-08-30T16:45:00"),
         "Embeddings are not comparable across versions: re-index the visual search when "
         "promoting a new version."),
        ("person:dana", "lee", _at("2024-10-16T09:00:00"),
         "Dana left on 2024-10-15. Her churn and LTV pipelines run from the growth-models "
         "repo; the S3 credentials were rotated. Ask Lee or Maria."),
    ]
    for about, by, when, body in notes:
        b.note(about, body, by=by, created_at=when)


#: Datasets nobody took over: owned only by someone who has left.
UNOWNED_BY_TEAMS = ("churn_labels", "human_labels")


def _ownership(b: BatchBuilder) -> None:
    for spec in DATASETS:
        if spec.name not in UNOWNED_BY_TEAMS:
            b.own(f"dataset:{spec.name}", owner=f"team:{spec.team}",
                  since=_at("2024-01-02"))
        if spec.steward:
            b.own(f"dataset:{spec.name}", owner=spec.steward, role="steward",
                  since=_at("2024-01-02"))
    for exp in EXPERIMENTS:
        b.own(f"experiment:{exp.name}", owner=exp.owner, since=_at("2024-01-08"))
        for m in exp.models:
            b.own(f"model:{m.name}", owner=m.owner, since=_at("2024-01-15"))
            if m.owner not in _LEFT:
                b.own(f"model:{m.name}", owner=f"team:{exp.team}", role="maintainer",
                      since=_at("2024-01-15"))
    # Two hand-overs: one before Dana left, one between colleagues.
    b.own("model:churn-explainer", owner="lee", since=_at("2024-10-01"), transfer_from="dana")
    b.own("model:autocomplete", owner="zoe", since=_at("2024-06-03"), transfer_from="kenji")


def demo_batches(seed: int = DEFAULT_SEED) -> list[DemoBatch]:
    """The demo history as write batches, in the order they must be written."""
    rng = random.Random(seed)
    organisation, data = BatchBuilder(), BatchBuilder()
    _organisation(organisation)
    _data(data, rng)
    # Each batch is written at the time its facts came to be, so the history and every
    # question asked as of a date read like the team's year.
    batches = [DemoBatch("organisation", organisation, _FOUNDED),
               DemoBatch("data", data, _FOUNDED)]

    runs = _plan_runs(rng, seed)
    versions = _plan_versions(runs, rng)
    by_run = {v.run.id: v for v in versions}
    deployments = _plan_deployments(versions, rng)
    ordered = sorted(runs, key=lambda r: (r.started_at, r.id))
    for start in range(0, len(ordered), RUNS_PER_BATCH):
        b = BatchBuilder()
        chunk = ordered[start:start + RUNS_PER_BATCH]
        for r in chunk:
            b.run(id=r.id, **r.fields)
            v = by_run.get(r.id)
            if v is not None:
                b.model_version(
                    v.model.name, version=v.version, run_id=r.id,
                    uri=f"s3://acme-ml-models/{v.model.name}/{v.version}/",
                    framework=_FRAMEWORK[r.experiment.family],
                    description=f"{v.model.name} v{v.version}, from run {r.fields['name']}",
                    aliases=_aliases(v, versions, deployments), created_at=v.ready_at)
        batches.append(DemoBatch(f"runs {start + 1}-{start + len(chunk)}", b,
                                 chunk[0].started_at))

    # One batch at load time: written again, a replaced or decommissioned deployment is
    # retired again by the same batch, so a second load changes nothing (``deployedAt``
    # keeps their dates).
    production = BatchBuilder()
    for d in sorted(deployments, key=lambda d: (d.at, d.id)):
        production.deploy(d.version.model.name, d.version.version, environment=d.environment,
                          by=d.by, id=d.id, deployed_at=d.at,
                          endpoint=f"https://{d.environment}.models.acme.example/"
                                   f"{d.version.model.name}")
    # Retired by hand at load time, in the same batch: nothing replaces it.
    last_prod = [d for d in deployments
                 if d.version.model.name == DECOMMISSIONED and d.environment == "production"]
    production.retire(last_prod[-1].id)
    batches.append(DemoBatch("deployments", production))

    ownership = BatchBuilder()
    _ownership(ownership)
    by_since: dict[datetime, BatchBuilder] = {}
    for own in ownership.batch().ownerships:
        by_since.setdefault(own.since or LOADED_AT, BatchBuilder()).extend(
            Batch(ownerships=(own,)))
    for since, b in sorted(by_since.items(), key=lambda item: item[0]):
        batches.append(DemoBatch(f"ownership since {since:%Y-%m-%d}", b, since))
    notes = BatchBuilder()
    _notes(notes, runs, versions, deployments)
    batches.append(DemoBatch("notes", notes))
    return batches


def load_demo(graph: Graph, *, seed: int = DEFAULT_SEED,
              progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the demo history (idempotently) and return the graph's counts afterwards."""
    client = Client(graph, actor=DEMO_ACTOR)
    for batch in demo_batches(seed):
        log.info("demo: writing %s (%d records)", batch.name, len(batch.builder))
        if progress is not None:
            progress(batch.name)
        client.write(batch.builder, now=batch.now)
    return demo_summary(graph)


def demo_summary(graph: Graph) -> dict[str, int]:
    """Nodes per label and relationships per type, as ``kb demo`` reports them."""
    return counts(graph)
