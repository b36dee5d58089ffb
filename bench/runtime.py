"""Runtime overhead: a no-op ten-node workflow through `/v1/execute-workflow` beside a direct call.

`python -m bench.runtime [--quick] [--runs N] [--out DIR]`

The direct path calls the same function in this process under the same OpenTelemetry provider
the server installs (its ten spans are made, then dropped: no run is bound). The HTTP path is
`runledger serve` on the embedded default (SQLite log, chDB projections, projector thread)
with the function deployed from a deployments file; one keep-alive client sends requests one
after another (latency), then four clients at once (throughput). Each HTTP run records 23
events (workflow initiated, ten node spans, snapshot, fulfilled) durably before it answers.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._noop import ten_nodes
from bench._report import machine, markdown_table, source_revision, text_table, versions
from bench._server import running_server
from runtime.function_runs import shared_bridge

_BODY = orjson.dumps({"workflow_deployment_name": "noop", "inputs": []})
_WORKSPACE = "bench"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def direct(runs: int) -> dict[str, float]:
    """The function called in-process, `runs` times."""
    shared_bridge()  # the provider the server runs it under
    for _ in range(50):
        ten_nodes()
    latencies = []
    started = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        ten_nodes()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return _summary(latencies, runs / elapsed)


def _summary(latencies: list[float], rate: float) -> dict[str, float]:
    return {
        "runs_per_second": rate,
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


def _execute(client: httpx.Client) -> None:
    response = client.post("/v1/execute-workflow", content=_BODY)
    response.raise_for_status()
    state = response.json()["data"]["state"]
    if state != "FULFILLED":
        raise RuntimeError(f"the no-op run was {state}: {response.text}")


def over_http(base_url: str, key: str, runs: int, clients: int) -> dict[str, float]:
    """`runs` executions from `clients` keep-alive clients at once."""
    headers = {"X-API-KEY": key, "Content-Type": "application/json"}
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, runs // clients)

    def work() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            for _ in range(5):
                _execute(client)  # warm-up
            barrier.wait()
            mine = []
            for _ in range(per_client):
                t0 = time.perf_counter()
                _execute(client)
                mine.append(time.perf_counter() - t0)
            with lock:
                latencies.extend(mine)

    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return _summary(latencies, len(latencies) / elapsed)


def measure(runs: int) -> dict[str, Any]:
    """Every path, in one run."""
    results: dict[str, Any] = {"direct": direct(runs * 10)}
    with tempfile.TemporaryDirectory(prefix="runledger-bench-runtime-") as folder:
        root = Path(folder)
        deployments = root / "deployments.toml"
        deployments.write_text(
            '[[deployment]]\nname = "noop"\nentrypoint = "bench._noop:ten_nodes"\n'
            f'workspace = "{_WORKSPACE}"\n'
        )
        env = {
            "RUNLEDGER_DATA_DIR": str(root / "data"),
            "RUNLEDGER_DEPLOYMENTS_FILE": str(deployments),
            "RUNLEDGER_LOG_LEVEL": "WARNING",
        }
        with running_server(env, _WORKSPACE, root / "server.log") as server:
            results["http_1"] = over_http(server.base_url, server.api_key, runs, clients=1)
            results["http_4"] = over_http(server.base_url, server.api_key, runs, clients=4)
    direct_p50 = results["direct"]["p50_ms"]
    results["added_latency_p50_ms"] = results["http_1"]["p50_ms"] - direct_p50
    results["added_latency_p99_ms"] = results["http_1"]["p99_ms"] - results["direct"]["p99_ms"]
    results["http_1_over_direct_rate"] = (
        results["http_1"]["runs_per_second"] / results["direct"]["runs_per_second"]
    )
    return results


def table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The paths side by side."""
    header = ["path", "runs/s", "p50 ms", "p99 ms"]
    titles = {
        "direct": "direct call, in process",
        "http_1": "POST /v1/execute-workflow, 1 client",
        "http_4": "POST /v1/execute-workflow, 4 clients",
    }
    rows = [
        [
            title,
            f"{results[key]['runs_per_second']:,.0f}",
            f"{results[key]['p50_ms']:.2f}",
            f"{results[key]['p99_ms']:.2f}",
        ]
        for key, title in titles.items()
    ]
    return header, rows


def main(argv: list[str] | None = None) -> int:
    """Run, print, and write bench/results/runtime.{json,md}."""
    parser = argparse.ArgumentParser(prog="python -m bench.runtime", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few runs: the paths work")
    parser.add_argument("--runs", type=int, default=400, help="HTTP runs per path")
    parser.add_argument("--out", default="bench/results", help="where the results go")
    args = parser.parse_args(argv)
    runs = 20 if args.quick else args.runs
    results = measure(runs)
    header, rows = table(results)
    added = (
        f"added latency p50 {results['added_latency_p50_ms']:.2f} ms, "
        f"p99 {results['added_latency_p99_ms']:.2f} ms; "
        f"runs/s through HTTP (1 client) = {results['http_1_over_direct_rate']:.4f} x direct"
    )
    print(text_table(header, rows))
    print(added)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "runtime-quick" if args.quick else "runtime"
    meta = {"machine": machine(), "versions": versions(), "source": source_revision()}
    (out / f"{stem}.json").write_bytes(
        orjson.dumps({**meta, "runs": runs, "results": results}, option=orjson.OPT_INDENT_2)
    )
    (out / f"{stem}.md").write_text(markdown_table(header, rows) + "\n\n" + added + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
