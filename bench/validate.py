"""Validation benchmark: single ``Validator.validate`` calls without the SMTP probe, and a
100,000-address bulk job through ``BulkWorker``, in process against a loopback DNS server and a
fresh SQLite store (``--postgres URL`` for PostgreSQL).

Prints validations per second with p50/p99 latency (target p50 < 5 ms), then the bulk job's
addresses per second and the process's peak RSS growth (the job streams: it must stay flat).

    .venv/bin/python bench/validate.py [--calls 20000] [--bulk 100000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.dns import LoopbackDNS

from mailwright.resolver import Resolver
from mailwright.store import Store
from mailwright.validation import BulkJobs, BulkWorker, Validator

DOMAINS = [f"company{i}.com" for i in range(40)] + ["gmail.com", "yahoo.com", "outlook.com"]
ZONE = "\n".join(f"{d}. 3600 IN MX 10 mx.{d}." for d in DOMAINS)
LOCALS = ["john.smith", "info", "a.b+tag", "maria_garcia", "x", "sales", "john..doe", "q" * 40]


def addresses(n: int) -> list[str]:
    return [f"{LOCALS[i % len(LOCALS)]}{i}@{DOMAINS[i % len(DOMAINS)]}" for i in range(n)]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def single(validator: Validator, calls: int) -> dict[str, float]:
    sample = addresses(5000)
    for address in sample[:500]:  # warm the DNS cache as a running server would be
        await validator.validate(address)
    latencies = []
    started = time.perf_counter()
    for i in range(calls):
        t0 = time.perf_counter()
        await validator.validate(sample[i % len(sample)])
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "calls": calls,
        "per_second": calls / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def bulk(store: Store, validator: Validator, directory: Path, n: int) -> dict[str, float]:
    jobs = BulkJobs(store, directory, time.time)
    body = "email\n" + "\n".join(addresses(n)) + "\n"
    before = rss_mb()
    started = time.perf_counter()
    await jobs.submit("bench", body.encode())
    del body
    await BulkWorker(jobs, validator).run_once()
    elapsed = time.perf_counter() - started
    job = await jobs.get("bench")
    assert job["status"] == "completed", job
    assert job["records_processed"] == n, job
    return {
        "addresses": n,
        "seconds": elapsed,
        "per_second": n / elapsed,
        "peak_rss_growth_mb": rss_mb() - before,
    }


async def main(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp, LoopbackDNS(ZONE) as dns:
        url = args.postgres or f"sqlite:///{tmp}/bench.db"
        store = Store.from_url(url)
        await store.migrate()
        try:
            validator = Validator(store, Resolver(dns.address, timeout=2.0), time.monotonic)
            results = {"single": await single(validator, args.calls)}
            if args.bulk:
                results["bulk"] = await bulk(store, validator, Path(tmp), args.bulk)
        finally:
            await store.close()
    return results


def report(results: dict[str, dict[str, float]]) -> None:
    one = results["single"]
    verdict = "ok" if one["p50_ms"] < 5 else "MISSED"
    print(
        f"single (no probe): {one['per_second']:,.0f} validations/s over {one['calls']:,} calls, "
        f"p50 {one['p50_ms']:.3f} ms, p99 {one['p99_ms']:.3f} ms (target p50 < 5 ms: {verdict})"
    )
    if "bulk" in results:
        b = results["bulk"]
        print(
            f"bulk job: {b['addresses']:,.0f} addresses in {b['seconds']:.1f} s = "
            f"{b['per_second']:,.0f} addresses/s, peak RSS growth {b['peak_rss_growth_mb']:.1f} MB"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--bulk", type=int, default=100000)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(outcome, indent=2))
    else:
        report(outcome)
