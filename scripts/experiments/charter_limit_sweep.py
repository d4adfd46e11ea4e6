"""The embedding layer's limit for modelled categories, swept with one fold's model.

Usage: .venv/bin/python scripts/experiments/charter_limit_sweep.py FOLD MODEL_DIR [LIMITS]
  FOLD: the harmful set that model held out (harmbench for choosing settings);
  MODEL_DIR: a folder `charter finetune charter --holdout FOLD --out DIR` wrote.
Prints, per limit: the fold's held-out harmful caught, its benign test flagged, and the
share of Charter's own devset and follow-ups flagged (those are not a test). Texts are
embedded in one batch, as in the sweep that chose MODELLED_THRESHOLD.
"""

import json
import sys
import tempfile
from pathlib import Path

from charter.bench.policy import BENIGN_FOLLOW_UPS, CARRIER_FOLLOW_UPS
from charter.core.config import load_settings
from charter.judgement import serving
from charter.judgement.artifact import Artifact
from charter.judgement.tasks import charter as task
from charter.policy.classify import PolicyClassifier
from charter.policy.schema import parse_charter
from charter.policy.versions import default_charter_text
from charter.runtime import Runtime

fold, folder = sys.argv[1], Path(sys.argv[2])
limits = [float(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "0.40,0.41,0.43,0.46").split(",")]
rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": tempfile.mkdtemp()}))
model = serving.scorer_for(Artifact.load(folder / "model.safetensors"), rt.settings)
charter = parse_charter(default_charter_text())
embedder = rt.embedder()
_, _, test = task.split(task.load_rows(Path("../shared/data")), fold)
devset = [json.loads(line) for line in Path("examples/policy-devset.jsonl").open()]
rows = test + [task.Row(d["text"], d["tier"] != "minimal", None, "devset:" + d["tier"])
               for d in devset]
rows += [task.Row(t, False, None, "followup") for t in BENIGN_FOLLOW_UPS + CARRIER_FOLLOW_UPS]
vectors = embedder.embed_queries([r.text for r in rows])
groups = {
    "harmful": lambda r: r.harmful and r.source in task.HOLDOUTS,
    "benign": lambda r: not r.harmful and not r.source.startswith(("devset", "followup")),
    "devset_harmful": lambda r: r.source in ("devset:red_line", "devset:high_risk"),
    "devset_benign": lambda r: r.source == "devset:minimal",
    "follow_ups": lambda r: r.source == "followup",
}
for limit in limits:
    clf = PolicyClassifier(charter, embedder, model=model, modelled_threshold=limit)
    flagged = [(r, clf.classify(r.text, v).category is not None) for r, v in zip(rows, vectors)]
    out = {"fold": fold, "limit": limit}
    for name, chosen in groups.items():
        part = [f for r, f in flagged if chosen(r)]
        out[name] = round(sum(part) / len(part), 4)
    print(json.dumps(out))
