"""Write or read a team's MLflow store with whichever MLflow runs this script.

The import tests run it with kb's own MLflow and with another MLflow version (the
virtualenv ``scripts/setup.sh`` makes), so the store is the team's and not kb's::

    python mlflow_team_store.py write|read TRACKING_URI

``write`` prints the run ids and experiment id as JSON; ``read`` opens the store and prints
what it finds, failing as MLflow does when the store's schema is not its own.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag

T0 = datetime(2024, 5, 1, tzinfo=UTC)
REPO = "https://github.com/acme/churn.git"


def _ms(day: int) -> int:
    return int(T0.replace(day=day).timestamp() * 1000)


def _input(name: str, digest: str, context: str) -> DatasetInput:
    source = json.dumps({"url": f"https://data.example/{name}-{digest}.csv"})
    return DatasetInput(Dataset(name=name, digest=digest, source_type="http", source=source),
                        tags=[InputTag("mlflow.data.context", context)])


def write(client: MlflowClient) -> dict:
    """Two runs of ``churn`` (the second without a repository URL), a registered model
    ``churn`` with a version per run and the alias ``champion`` on version 2."""
    exp = client.create_experiment("churn", tags={"mlflow.note.content": "Who leaves"})
    ids = []
    for day, user, repo in ((2, "alice@corp.com", REPO), (9, "bob", None)):
        tags = {"mlflow.user": user, "mlflow.source.name": "train.py",
                "mlflow.source.git.commit": f"c0ffee{day}"}
        if repo:
            tags["mlflow.source.git.repoURL"] = repo
        run = client.create_run(exp, start_time=_ms(day), run_name=f"train-{day}", tags=tags)
        rid = run.info.run_id
        client.log_param(rid, "lr", f"0.{day}")
        client.log_metric(rid, "auc", 0.7, timestamp=_ms(day), step=0)
        client.log_metric(rid, "auc", 0.8 + day / 100, timestamp=_ms(day) + 1, step=1)
        client.log_inputs(rid, [_input("customers", f"d{day}", "training"),
                                _input("holdout", "h1", "testing"),
                                _input("recent", "r1", "eval"),
                                _input("scores", "s1", "scoring")])
        client.set_terminated(rid, status="FINISHED", end_time=_ms(day) + 3_600_000)
        ids.append(rid)
    client.create_registered_model("churn", description="Who will leave next month")
    for rid in ids:
        client.create_model_version("churn", source=f"runs:/{rid}/model", run_id=rid)
    client.set_registered_model_alias("churn", "champion", "2")
    return {"runs": ids, "experiment": exp}


def read(client: MlflowClient) -> dict:
    exp = client.get_experiment_by_name("churn")
    runs = client.search_runs([exp.experiment_id])
    model = client.get_registered_model("churn")
    return {"runs": sorted(r.info.run_id for r in runs),
            "aliases": {k: str(v) for k, v in model.aliases.items()}}


def main() -> None:
    action, uri = sys.argv[1:3]
    # The file registry reads logged models through the default URI, so it must be this
    # store's (left unset it is sqlite:///mlflow.db in the working directory).
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    print(json.dumps(write(client) if action == "write" else read(client)))


if __name__ == "__main__":
    main()
