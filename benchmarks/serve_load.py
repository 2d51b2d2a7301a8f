"""Load test of ``structnet serve`` on this machine: a server process on 127.0.0.1 (all tasks, ``--threads``
given), then (1) 16 clients x 10 requests of ``/api/v1/predict/extraction`` with a 512 x 512 photo, (2) 4 clients x
3 requests of the whole ``/api/v1/analyze`` (every task, pictures included). Nothing may be lost; latency
percentiles, throughput and the server's memory go to benchmarks/results/serve_load.json.

    .venv/bin/python benchmarks/serve_load.py [--threads 2]
"""
import argparse
import io
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--conditions", default="nothing else running",
                   help="what else the machine was doing (stored with the numbers)")
    a = p.parse_args()
    import skimage.data
    from PIL import Image

    from structnet.serve.loadtest import rss_mb, run_load

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut())).save(buf, format="PNG")
    body = buf.getvalue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "structnet.cli", "serve", "--port", str(port), "--threads",
                             str(a.threads)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while True:
            try:
                urllib.request.urlopen(url + "/api/v1/models", timeout=2).read()
                break
            except OSError:
                if time.time() - t0 > 180 or proc.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.3)
        start_s = round(time.time() - t0, 1)
        idle = rss_mb(proc.pid)
        run_load(url + "/api/v1/analyze?images=0", body, clients=1, requests=1)  # warm-up
        rows = {"predict_extraction_16x10": run_load(url + "/api/v1/predict/extraction?images=0", body, clients=16,
                                                     requests=10, pid=proc.pid),
                "analyze_all_tasks_4x3": run_load(url + "/api/v1/analyze", body, clients=4, requests=3,
                                                  pid=proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "server_threads": a.threads, "photo": "skimage astronaut 512 x 512 PNG", "start_seconds": start_s,
           "rss_mb_idle_after_start": idle, "runs": rows,
           "conditions": a.conditions,
           "note": "One photo is analysed at a time (the models share the CPU); latency = queueing + work"}
    dest = Path(__file__).parent / "results" / "serve_load.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
