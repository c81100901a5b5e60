"""Reading kb from a notebook, on the demo history (``kb up && kb demo`` first).

Each ``# %%`` is a cell; run the file whole with ``python examples/read_api.py``. Nothing
but ``import kb`` is needed: the reads use the graph the environment names
(``KB_NEO4J_URI`` ... or the local Neo4j ``kb up`` started), as the SDK's writes do.
"""

# %%
import kb

# Who trained the newest version of churn, on which data, with which code?
newest = kb.who_trained("churn").first(1)[0]
print(newest.version, newest.person_handle, newest.run_id, newest.commit)
print([f"{i.dataset}@{i.version}" for i in newest.inputs])

# %%
# What runs in production, and who stands behind it?
for d in kb.deployments(environment="production"):
    print(d.model, d.version, d.deployed_by, [o.key for o in d.owners])

# %%
# Runs of one experiment as a table: one column per field, params.* and metrics.* flattened
# (needs the extra: pip install 'kb[pandas]').
runs = kb.runs(experiment="churn-gbm", status="completed")
try:
    frame = runs.to_pandas()
    print(frame[["run_id", "person", "started_at"]].head())
except ImportError as missing:
    print(missing)

# %%
# Lists are read a page at a time, only as far as they are used.
first_ten = kb.runs(page_size=10).first(10)
print(len(first_ten))

# %%
# A bad dataset: everything downstream of it, nearest first.
for item in kb.impact("churn_train").first(5):
    print(item.kind, item.key, item.hops)

# %%
# When someone leaves: what they hold, and what nobody else owns.
dana = kb.handover("dana")
print([(h.kind, h.key) for h in dana if h.at_risk])
print([(o.kind, o.key, o.reason) for o in kb.orphans()])

# %%
# One entity, whole, with its neighbours; and its history.
model = kb.show("model:churn")
print(model.description, sorted(model.links or {}))
for change in kb.history("model:churn").first(3):
    print(change.at, change.actor, change.op, change.entity.kind, change.entity.key)
