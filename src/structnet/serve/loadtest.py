"""A load test of a running ``structnet serve``: ``clients`` threads each send ``requests`` photos, one after another,
and every answer is counted (nothing may be lost: each request ends in a status or an error line).

    python -m structnet.serve.loadtest --url http://127.0.0.1:8000 --clients 16 --requests 10 photo.jpg

Standard library only (``urllib`` + threads), so it measures the server, not a client framework. Prints and returns a
summary: counts by status, latency percentiles (ms) of the successful requests, wall time and throughput; with
``--pid`` also the server's resident memory before and after (Linux ``/proc``).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = ["run_load", "rss_mb", "main"]


def rss_mb(pid: int) -> Optional[float]:
    """Resident memory of process ``pid`` in MB (Linux), None where it cannot be read."""
    try:
        for line in Path(f"/proc/{int(pid)}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def _percentiles(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {k: None for k in ("p50", "p90", "p95", "p99", "max")}
    v = sorted(values)

    def q(p: float) -> float:
        return round(v[min(len(v) - 1, max(0, int(round(p * (len(v) - 1)))))], 1)

    return {"p50": q(0.5), "p90": q(0.9), "p95": q(0.95), "p99": q(0.99), "max": round(v[-1], 1)}


def run_load(url: str, body: bytes, *, clients: int = 16, requests: int = 10, content_type: str = "image/png",
             timeout: float = 300.0, pid: Optional[int] = None) -> Dict[str, Any]:
    """POST ``body`` to ``url`` from ``clients`` threads, ``requests`` times each; returns the summary (``sent``,
    ``answered``, ``status`` counts, ``errors`` (connection errors: lost requests), ``latency_ms`` percentiles of
    the 200s, ``seconds``, ``requests_per_s``, ``rss_mb`` before / after where ``pid`` is given)."""
    lock = threading.Lock()
    status: Dict[str, int] = {}
    latencies: List[float] = []
    errors: List[str] = []

    def client() -> None:
        for _ in range(requests):
            req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    r.read()
                    code = r.status
            except urllib.error.HTTPError as e:
                e.read()
                code = e.code
            except Exception as e:  # noqa: BLE001 -- a lost request is what this test counts
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
                continue
            ms = 1000.0 * (time.perf_counter() - t0)
            with lock:
                status[str(code)] = status.get(str(code), 0) + 1
                if code == 200:
                    latencies.append(ms)

    before = rss_mb(pid) if pid else None
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    answered = sum(status.values())
    out: Dict[str, Any] = {"url": url, "clients": clients, "requests_per_client": requests,
                           "sent": clients * requests, "answered": answered, "status": status,
                           "errors": errors[:10], "lost": clients * requests - answered,
                           "latency_ms": _percentiles(latencies), "seconds": round(seconds, 2),
                           "requests_per_s": round(answered / seconds, 2) if seconds > 0 else None}
    if pid:
        out["rss_mb"] = {"before": before, "after": rss_mb(pid)}
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m structnet.serve.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("photo", help="the image file every request sends")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
    p.add_argument("--path", default="/api/v1/analyze?images=0", help="endpoint (default /api/v1/analyze?images=0)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=10, help="requests per client")
    p.add_argument("--pid", type=int, default=None, help="the server's process id (memory before / after)")
    p.add_argument("--json", default=None, help="also write the summary here")
    a = p.parse_args(argv)
    photo = Path(a.photo)
    if not photo.is_file():
        print(f"loadtest: error: {photo}: file not found", file=sys.stderr)
        return 2
    ctype = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(photo.suffix.lower(),
                                                                                  "application/octet-stream")
    res = run_load(a.url.rstrip("/") + a.path, photo.read_bytes(), clients=a.clients, requests=a.requests,
                   content_type=ctype, pid=a.pid)
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")
    return 0 if res["lost"] == 0 and set(res["status"]) <= {"200"} else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
