"""How often ``structnet analyze`` finds a person (:data:`structnet.analysis.PERSON_RULE`) on photos with and
without people: 80 photos each of LSPET val, PASCAL-Person-Part train (every 20th) and Weizmann-horse train (every
2nd; no person annotation: horses, some with riders). Writes benchmarks/results/analyze_person_rule.json with the
rate per set for the rule's threshold and its neighbours.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/analyze_person_rule.py
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

from structnet.analysis import PERSON_MIN_SCORE, PERSON_TOP_JOINTS, Analyzer
from structnet.runtime import set_threads

DATA = Path(os.environ.get("STRUCTNET_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def ids(listing: Path, n: int, step: int):
    return [x.strip() for x in listing.read_text().split() if x.strip()][::step][:n]


def main() -> int:
    set_threads(1)
    sets = {"lspet_val": ("lspet", "val.txt", 12), "pascal_person_part_train": ("pascal-person-part", "train.txt", 20),
            "weizmann_horse_train": ("weizmann-horse", "train.txt", 2)}
    an = Analyzer(tasks="pose2d")
    scores = {}
    for key, (folder, listing, step) in sets.items():
        root = DATA / folder
        if not root.is_dir():
            print(f"skipped {key}: {root} not found", file=sys.stderr)
            continue
        rows = []
        for i in ids(root / listing, 80, step):
            path = next((root / "images").glob(i + ".*"))
            a = an.analyze(path)
            rows.append(float(a.person.score))
        scores[key] = rows
    out = {"rule": f"mean of the {PERSON_TOP_JOINTS} best pose2d joint scores >= threshold",
           "threshold": PERSON_MIN_SCORE, "photos": {k: len(v) for k, v in scores.items()},
           "found_rate": {str(t): {k: round(float(np.mean(np.asarray(v) >= t)), 3) for k, v in scores.items()}
                          for t in (0.2, 0.25, PERSON_MIN_SCORE, 0.3, 0.35)},
           "model": an.model("pose2d").name}
    dest = Path(__file__).parent / "results" / "analyze_person_rule.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["found_rate"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
