"""The README's speed table (every bundled model, ms per 512 x 512 photo on 1 and 2 threads, PyTorch and ONNX
Runtime, accuracy beside it) and the load test of ``structnet serve`` in docs/serve.md, from
benchmarks/results/speed_table.json (``bench_speed_table.py``) and serve_load.json (``serve_load.py``).

    python benchmarks/report_speed.py            # prints the tables
    python benchmarks/report_speed.py --write    # rewrites the marked ones in README.md and docs/serve.md
"""
from __future__ import annotations

import json
from pathlib import Path

R = Path(__file__).resolve().parent / "results"


def _load(name):
    p = R / name
    return json.loads(p.read_text()) if p.is_file() else None


def speed_table() -> str:
    d = _load("speed_table.json")
    if not d:
        return "(not measured yet: `benchmarks/bench_speed_table.py`)"
    lines = ["| model, settings | backend | ms, 1 thread | ms, 2 threads | accuracy |",
             "|---|---|---|---|---|"]
    for r in d["rows"]:
        ms = r["ms"]
        lines.append(f"| {r['row']}: `{r['model']}` | {'ONNX Runtime' if r['backend'] == 'onnxruntime' else 'PyTorch'}"
                     f" | {ms.get('1', '')} | {ms.get('2', '')} | {r['headline']} |")
    lines.append("")
    lines.append(f"Median of {d['repeats']} calls of the task's predictor with `predict`'s defaults after a warm-up, "
                 f"on {d['photo']} ({d['machine']}, torch {d['torch']}; `benchmarks/bench_speed_table.py`).")
    return "\n".join(lines)


def serve_table() -> str:
    d = _load("serve_load.json")
    if not d:
        return "(not measured yet: `benchmarks/serve_load.py`)"
    lines = ["| run | requests | lost | status | p50 ms | p95 ms | max ms | requests/s | server MB before -> after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in d["runs"].items():
        lat, mem = r["latency_ms"], r.get("rss_mb", {})
        status = ", ".join(f"{k}: {v}" for k, v in sorted(r["status"].items()))
        lines.append(f"| {name} | {r['sent']} | {r['lost']} | {status} | {lat['p50']} | {lat['p95']} | {lat['max']} | "
                     f"{r['requests_per_s']} | {mem.get('before')} -> {mem.get('after')} |")
    lines.append("")
    lines.append(f"{d['machine']} ({d.get('conditions', 'conditions not recorded')}), server on "
                 f"{d['server_threads']} threads, {d['photo']}; the server started in {d['start_seconds']} s with "
                 f"{d['rss_mb_idle_after_start']} MB. {d['note']}.")
    return "\n".join(lines)


def blocks():
    return [("speed", speed_table())]


def main(argv=None) -> int:
    import _docblocks

    rc = _docblocks.main("report_speed.py", "README.md", blocks, argv)
    return rc or _docblocks.main("report_speed.py", "docs/serve.md", lambda: [("serve load", serve_table())], argv)


if __name__ == "__main__":
    raise SystemExit(main())
