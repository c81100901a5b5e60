"""How large each field of a record may be: the one table of kb's input limits.

Every writer (SDK, CLI, API, OpenLineage, MLflow) meets these through the records, so a
value too large for one is too large for all. Sizes count characters (code points).

=============================  =========  ==============================================
what                           at most    fields
=============================  =========  ==============================================
names and identifiers          200        handles, person display names, team, dataset,
                                          model and experiment names, versions, run,
                                          deployment and note ids, environments,
                                          aliases, owner and author references, roles,
                                          schema field names, repositories, commits
short text                     4,096      URIs, tracker URLs, endpoints, e-mail,
                                          branch, framework, license, task, domain,
                                          base model, producer, platform, schema field
                                          types and descriptions, package entries, a
                                          run's error summary
command                        16,384     a run's command line
long text                      65,536     descriptions, intended use, limitations,
                                          each datasheet section
note body                      100,000    a note (Markdown)
param value                    8,192      one text value of a run's params
param or metric key            250        one key of a run's params or metrics
params, metrics                1,000      entries of each map
aliases                        100        aliases of one model version
teams                          1,000      teams of one person
schema fields                  10,000     fields of one dataset version's schema
packages                       10,000     packages of one environment
inputs, outputs, derived from  10,000     dataset versions one run (or derivation) names
merge state                    16 MiB     the OpenLineage merge state kb keeps on a run
                                          (its params, within the bounds above)
=============================  =========  ==============================================
"""

from __future__ import annotations

NAME = 200
SHORT_TEXT = 4_096
COMMAND = 16_384
LONG_TEXT = 65_536
NOTE_BODY = 100_000
PARAM_VALUE = 8_192
# As long as MLflow allows, so that every MLflow run imports.
MAP_KEY = 250
MAP_ENTRIES = 1_000
ALIASES = 100
TEAMS = 1_000
SCHEMA_FIELDS = 10_000
PACKAGES = 10_000
DATASET_LINKS = 10_000
MERGE_STATE = 16 * 1024 * 1024
