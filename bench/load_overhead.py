"""harness's load-generation throughput vs plain `locust --headless`: same locustfile, same target, one run.

The target is a trivial keep-alive HTTP server (an asyncio Protocol in a process
of its own, answering every request head with a canned 200), fast enough that the load generator
is the bottleneck. Both generators run as subprocesses with one Locust process,
`--users` FastHttpUsers without think time, for the same duration, alternating
`--rounds` times (loopback is noisy: compare within one run, see LOCUST-NOTES):

- plain: `python -m locust -f bench.py --headless -u U -r U -t Ns --csv P` → Δrequests/Δt of the
  per-second history after the first 3 s;
- harness: `python -m harness load bench --host URL --format json` (users mode, ramp 1 s, warm-up 2 s,
  hold N−3 s) → the judged window's achieved req/s;
- harness, arrival rate: the same with `level: {rps: R}`, R = 2 × that round's plain rate, and
  `load_generator.max_users: U`, so U paced users are always busy and slots queue: the achieved
  req/s is what the pacer, the intended-start accounting and the connection handling (a warm
  stack of users, idle ones closing their connections) cost on top of Locust.

Each row prints the median over the rounds of its ratio to plain Locust *of the same round*
(loopback is noisy, and so is a shared machine: compare within a round), beside the medians
of the rates themselves and the load average (`os.getloadavg`) at the end. It also gives the
requests per CPU-second of the generator process over the same window (its CPU time sampled
4 times a second with psutil): on a machine shared with other work a generator gets a varying
share of a core, which moves req/s a lot and the cost per request little.

    .venv/bin/python bench/load_overhead.py [--users 20] [--seconds 13] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

# Both generators are measured after this start-up (ramp and warm-up).
SKIPPED_S = 3
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

LOCUSTFILE = """\
from locust import FastHttpUser, constant, task


class Hammer(FastHttpUser):
    wait_time = constant(0)

    @task
    def home(self):
        self.client.get("/")
"""

SCENARIOS = """\
version: 1
target:
  app: bench-target
  formations: [{{quantity: 1}}]
load_generator: {{max_users: {users}}}
locustfiles:
  bench: {{path: {locustfile}}}
expected_peak: {{users: {users}}}
scenarios:
  - name: bench
    kind: load
    level: {{users: {users}}}
    spawn_rate: {users}
    ramp_s: 1
    warmup_s: 2
    hold_s: {hold}
    window_s: {hold}
  - name: bench-rate
    kind: load
    level: {{rps: {rate}}}
    spawn_rate: {users}
    ramp_s: 1
    warmup_s: 2
    hold_s: {hold}
    window_s: {hold}
"""


class _Canned(asyncio.Protocol):
    """Answers each request head (GETs without a body) with the canned 200, keeping the connection."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        count = self.pending.count(b"\r\n\r\n")
        if count:
            self.pending = self.pending[self.pending.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * count)


def serve(port: int) -> None:
    """Run the trivial target until killed."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Canned, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the target did not listen on {port}")


@dataclass(frozen=True)
class Measured:
    """One generator's run: achieved req/s over the window, and requests per CPU-second of the
    generator process in that same window (what contention on a shared machine does not change)."""

    rps: float
    per_cpu_s: float


def run_sampled(command: list[str], timeout_s: float, out: Path) -> list[tuple[float, float]]:
    """Run `command` (stdout to `out`), sampling its CPU seconds (user + system) 4 times a second."""
    samples: list[tuple[float, float]] = []
    with open(out, "w") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL)
        watched = psutil.Process(process.pid)
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                cpu = watched.cpu_times()
                samples.append((time.time(), cpu.user + cpu.system))
            time.sleep(0.25)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    return samples


def cpu_between(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """CPU seconds the process used in [start, end] (linear between samples)."""
    times = [t for t, _ in samples]

    def at(ts: float) -> float:
        i = min(max(bisect.bisect_left(times, ts), 1), len(times) - 1)
        (t0, c0), (t1, c1) = samples[i - 1], samples[i]
        return c0 + (c1 - c0) * (ts - t0) / (t1 - t0) if t1 > t0 else c1

    return max(at(end) - at(start), 1e-9) if len(samples) >= 2 else float("nan")


def run_plain(locustfile: Path, host: str, users: int, seconds: int, workdir: Path) -> Measured:
    """Plain Locust's rate over the same part of the run harness judges: after the first 3 s."""
    prefix = workdir / "plain"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users)]
    command += ["-r", str(users), "-t", f"{seconds}s", "--host", host, "--csv", str(prefix)]
    command += ["--skip-log-setup"]
    samples = run_sampled(command, seconds + 60, workdir / "plain.out")
    with open(f"{prefix}_stats_history.csv", newline="") as history:
        rows = [r for r in csv.DictReader(history) if r["Name"] == "Aggregated"]
    start = int(rows[0]["Timestamp"]) + SKIPPED_S
    measured = [r for r in rows if int(r["Timestamp"]) >= start]
    first, last = measured[0], measured[-1]
    elapsed = int(last["Timestamp"]) - int(first["Timestamp"])
    requests = int(last["Total Request Count"]) - int(first["Total Request Count"])
    cpu = cpu_between(samples, float(first["Timestamp"]), float(last["Timestamp"]))
    return Measured(rps=requests / elapsed, per_cpu_s=requests / cpu)


def run_harness(scenarios: Path, host: str, seconds: int, workdir: Path, scenario: str = "bench") -> Measured:
    command = [sys.executable, "-m", "harness", "load", scenario, "--scenarios", str(scenarios)]
    command += ["--host", host, "--quiet", "--format", "json"]
    out = workdir / "harness.out"
    samples = run_sampled(command, seconds + 60, out)
    judged = json.loads(out.read_text())["judged"]
    cpu = cpu_between(samples, float(judged["start_ts"]), float(judged["end_ts"]))
    return Measured(rps=float(judged["total"]["rps"]), per_cpu_s=int(judged["total"]["requests"]) / cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    target = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_listening(port)
        host = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as tmp:
            locustfile = Path(tmp) / "bench_locustfile.py"
            locustfile.write_text(LOCUSTFILE)
            scenarios = Path(tmp) / "scenarios.yaml"
            hold = args.seconds - SKIPPED_S
            rows: dict[str, list[Measured]] = {"plain": [], "harness": [], "harness arrival rate": []}
            for round_ in range(1, args.rounds + 1):
                plain = run_plain(locustfile, host, args.users, args.seconds, Path(tmp))
                rate = round(2 * plain.rps)
                text = SCENARIOS.format(locustfile=locustfile, users=args.users, hold=hold, rate=rate)
                scenarios.write_text(text)
                closed = run_harness(scenarios, host, args.seconds, Path(tmp))
                paced = run_harness(scenarios, host, args.seconds, Path(tmp), "bench-rate")
                for name, value in zip(rows, (plain, closed, paced), strict=True):
                    rows[name].append(value)
                print(
                    f"round {round_}: plain {plain.rps:,.0f} req/s ({plain.per_cpu_s:,.0f} per CPU-s); "
                    f"harness {closed.rps:,.0f} req/s ({closed.rps / plain.rps:.1%}; "
                    f"{closed.per_cpu_s:,.0f} per CPU-s, {closed.per_cpu_s / plain.per_cpu_s:.1%}); "
                    f"harness arrival rate, offered {rate:,} req/s: {paced.rps:,.0f} req/s "
                    f"({paced.rps / plain.rps:.1%}; {paced.per_cpu_s / plain.per_cpu_s:.1%} per CPU-s)",
                    flush=True,
                )
    finally:
        target.terminate()
        target.wait(timeout=10)
    plain_runs = rows.pop("plain")
    print(f"{args.rounds} rounds, {args.users} users, {args.seconds} s each")
    print(
        f"plain locust: median {statistics.median(p.rps for p in plain_runs):,.0f} req/s, "
        f"{statistics.median(p.per_cpu_s for p in plain_runs):,.0f} requests per CPU-second"
    )
    for name, runs in rows.items():
        ratios = [h.rps / p.rps for h, p in zip(runs, plain_runs, strict=True)]
        per_cpu = [h.per_cpu_s / p.per_cpu_s for h, p in zip(runs, plain_runs, strict=True)]
        print(
            f"{name}: median {statistics.median(r.rps for r in runs):,.0f} req/s; harness/plain per round: "
            f"median {statistics.median(ratios):.1%} in req/s (below plain in {sum(r < 1 for r in ratios)} "
            f"of {len(ratios)}), median {statistics.median(per_cpu):.1%} in requests per CPU-second"
        )
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
