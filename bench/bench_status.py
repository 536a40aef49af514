"""How long `drctl status` takes with 100 ms injected per AWS call, against its longest dependent chain.

Not a test: prints numbers. Starts a private lab on free loopback ports in a temp home, seeds it, injects
latency, then measures
  - the longest dependent call chain, done by hand: DescribeGlobalClusters then GetMetricData (the lag of the
    non-writer), each on a fresh client as status makes them, and again on warm clients;
  - `collect_status` in-process (what the command does after start-up), and again with warm clients (what
    each `--watch` refresh does: no client construction, only the fan-out);
  - `drctl status --json` as a subprocess (adds Python start-up and imports), against the chain alone run
    as a fresh process (same start-up and boto3 import).

    uv run python bench/bench_status.py [--latency-ms 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The longest dependent chain of `drctl status`, alone in a fresh process (same start-up and boto3 import).
CHAIN_SCRIPT = """
import sys
from drctl.aws import cloudwatch, rds
from drctl.aws.clients import ClientFactory
from drctl.stack import load_stack
s = load_stack(sys.argv[1])
t = s.secondary
f = ClientFactory(s.aws)
gc = rds.describe_global_cluster(f.client("rds", t.name), s.global_cluster_id)
cloudwatch.read_aurora_lag(f.client("cloudwatch", t.name), gc.member_in(t.name).cluster_id, t.name)
"""


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def show(label: str, samples: list[float]) -> float:
    med = statistics.median(samples)
    print(
        f"{label:<48} median {med * 1000:7.0f} ms   (min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})"
    )
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-ms", type=float, default=100.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from drctl.aws import cloudwatch, rds
    from drctl.aws.clients import ClientFactory
    from drctl.lab.control import LabControl
    from drctl.lab.ports import free_lab_ports
    from drctl.lab.runtime import lab_down, lab_up
    from drctl.lab.seed import seed_topology
    from drctl.stack import load_stack
    from drctl.status import collect_status, status_client_factory

    with tempfile.TemporaryDirectory(prefix="drctl-bench-") as tmp:
        home = Path(tmp)
        ports = free_lab_ports(("us-east-1", "us-west-2"))
        info = lab_up(home, ports=ports, databases=False)
        try:
            control = LabControl(info.admin_url)
            stack_path = seed_topology(info, home)
            stack = load_stack(stack_path)
            time.sleep(2)  # first lag samples
            control.set_latency(args.latency_ms)
            target = stack.secondary

            def chain(factory: ClientFactory) -> None:
                gc = rds.describe_global_cluster(factory.client("rds", target.name), stack.global_cluster_id)
                member = gc.member_in(target.name)
                assert member is not None and not member.is_writer
                cloudwatch.read_aurora_lag(
                    factory.client("cloudwatch", target.name), member.cluster_id, target.name
                )

            warm = ClientFactory(stack.aws)
            chain(warm)
            print(f"injected latency: {args.latency_ms:g} ms per call; {args.runs} runs each")
            cold_chain = show(
                "longest chain, fresh clients", timed(lambda: chain(ClientFactory(stack.aws)), args.runs)
            )
            warm_chain = show("longest chain, warm clients", timed(lambda: chain(warm), args.runs))
            control.clear_requests()
            in_proc = show(
                "collect_status in-process (fresh clients)",
                timed(lambda: collect_status(stack, timeout_s=10), args.runs),
            )
            calls = len(control.requests()) // args.runs
            refresh_factory = status_client_factory(stack, 10)
            collect_status(stack, timeout_s=10, factory=refresh_factory)
            warm_status = show(
                "collect_status, warm clients (a --watch refresh)",
                timed(lambda: collect_status(stack, timeout_s=10, factory=refresh_factory), args.runs),
            )
            chain_proc = show(
                "longest chain alone, as a fresh process",
                timed(
                    lambda: subprocess.run(
                        [sys.executable, "-c", CHAIN_SCRIPT, str(stack_path)],
                        capture_output=True,
                        check=True,
                        timeout=60,
                    ),
                    args.runs,
                ),
            )
            cmd = [sys.executable, "-m", "drctl", "status", "--json", "--stack", str(stack_path)]
            cli = show(
                "`drctl status --json` subprocess",
                timed(lambda: subprocess.run(cmd, capture_output=True, check=False, timeout=60), args.runs),
            )
            control.set_latency(0)
            startup = show(
                "`drctl --version` subprocess (start-up only)",
                timed(
                    lambda: subprocess.run(
                        [sys.executable, "-m", "drctl", "--version"], capture_output=True, check=True
                    ),
                    args.runs,
                ),
            )
            print(f"AWS calls per status: {calls}")
            print(f"ratio in-process / fresh-client chain: {in_proc / cold_chain:.2f}")
            print(f"ratio warm status / warm chain:        {warm_status / warm_chain:.2f}")
            print(f"ratio subprocess / chain as a process:  {cli / chain_proc:.2f}")
            print(f"(drctl --version start-up alone: {startup * 1000:.0f} ms)")
        finally:
            lab_down(home)


if __name__ == "__main__":
    main()
