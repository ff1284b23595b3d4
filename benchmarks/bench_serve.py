#!/usr/bin/env python3
"""By-hand benchmark of `eligibility serve`: requests per second for POST /decide over HTTP.

Not a test: nothing here asserts a speed. It starts one or more `eligibility serve --no-auth`
processes on free ports of 127.0.0.1 (in a temporary folder, stopped at the end), sends the example
Huadu family (every program, with the trace, as a caller gets it) from C client threads, each with
its own keep-alive connection, spread over the servers round robin, and prints for each
concurrency: requests/s, and the median, 90th and 99th percentile latency. For comparison it first
times the same work in-process: decide + to_json + json.dumps, one thread.

The clients run on the same machine as the servers and take CPU from them: on a small machine the
figures are a floor. One server process uses about one core (a decision is CPU-bound Python);
--servers 2 shows what two processes behind a load balancer give.

    .venv/bin/python benchmarks/bench_serve.py                          # 1 server, concurrency 1 and 8
    .venv/bin/python benchmarks/bench_serve.py --servers 2 --concurrency 8 --requests 800

Needs the serve extra and httpx (the test extra has both).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

import eligibility

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "huadu-family.json"
ON = "2024-09-01"


def _decimal(o: object) -> str:
    assert isinstance(o, Decimal)
    return format(o, "f")


def start(folder: Path, index: int) -> tuple[subprocess.Popen[bytes], str]:
    """Start one server on a free port; return the process and its URL once /health answers."""
    log = folder / f"server{index}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(eligibility.__file__).parent.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "eligibility", "serve", "--no-auth", "--port", "0"],
                                cwd=folder, env=env, stderr=out, stdout=subprocess.DEVNULL)
    give_up = time.monotonic() + 60
    url = ""
    while not url:
        if proc.poll() is not None or time.monotonic() > give_up:
            proc.kill()
            raise SystemExit(f"server {index} did not start:\n{log.read_text(encoding='utf-8')}")
        for line in log.read_text(encoding="utf-8").splitlines():
            if '"listening"' in line:
                url = json.loads(line)["url"]
        time.sleep(0.05)
    with httpx.Client(base_url=url) as c:
        while True:
            try:
                c.get("/health").raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.05)
    return proc, url


def in_process(body: dict[str, Any], seconds: float) -> float:
    """Decisions per second of decide + to_json + json.dumps in this process, one thread."""
    engine = eligibility.load()
    n = 0
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        json.dumps(engine.decide(body["household"], ON).to_json(), ensure_ascii=False, default=_decimal)
        n += 1
    return n / (time.perf_counter() - begin)


def run(urls: list[str], payload: bytes, requests: int, concurrency: int) -> tuple[float, list[float]]:
    """Send `requests` POST /decide from `concurrency` threads; return requests/s and each latency in ms."""
    per_thread = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]

    def worker(i: int) -> list[float]:
        times = []
        with httpx.Client(base_url=urls[i % len(urls)], timeout=60) as c:
            for _ in range(per_thread[i]):
                t = time.perf_counter()
                r = c.post("/decide", content=payload, headers={"Content-Type": "application/json"})
                times.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:300]}")
        return times

    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = [t for ts in pool.map(worker, range(concurrency)) for t in ts]
    return requests / (time.perf_counter() - begin), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--concurrency", default="1,8", help="client threads, comma-separated (default 1,8)")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level (default 400)")
    args = parser.parse_args()
    household = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    body = {"household": household, "on": ON}
    payload = json.dumps(body).encode("utf-8")
    print(f"in process, 1 thread: {in_process(body, 3.0):,.0f} decisions/s (decide + to_json + json.dumps)")
    with tempfile.TemporaryDirectory() as tmp:
        servers = [start(Path(tmp), i) for i in range(args.servers)]
        try:
            urls = [u for _, u in servers]
            run(urls, payload, 20 * len(urls), len(urls))  # warm up
            print(f"{args.servers} server process(es), {os.cpu_count()} CPUs, POST /decide, every program, traced")
            print(f"{'concurrency':>11} {'requests/s':>11} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
            for c in (int(x) for x in args.concurrency.split(",")):
                rate, lat = run(urls, payload, args.requests, c)
                q = statistics.quantiles(lat, n=100)
                print(f"{c:>11} {rate:>11,.0f} {statistics.median(lat):>8.1f} {q[89]:>8.1f} {q[98]:>8.1f}")
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
