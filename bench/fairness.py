"""Fairness: a victim tenant's latency alone and while another tenant attacks, on a real server process.

`obsrvr-flow serve` runs on a fresh PostgreSQL database (OBSRVR_BENCH_PG_ADMIN_URL, default
postgresql://root@127.0.0.1:5432/postgres; dropped at the end) with two tenants. The victim sends a small GraphQL
query (a page of 5 transfers and `_meta`) one request after another on one connection; the attacker, a process of
its own with two threads, sends for each scenario:

- graphql: the largest body OBSRVR_GRAPHQL_MAX_BODY_BYTES allows, holding the costliest document the guards let
  through to their last check, a new one each time (never cached);
- graphql_valid: the same with the costliest valid document of the largest allowed size (32 KiB);
- bodies: bodies over the limit: a declared Content-Length (refused before the body), a chunked body (cut at the
  limit) and a 1 MB body sent whole;
- uncached_victim: the graphql_valid attack from six threads, while the victim sends a new 3,000-character
  document each time (validated in the validation process, the queue the attacker's documents wait in): a tenant
  has at most two new documents in preparation at a time (the others get 429), so the victim's waits behind at
  most two of the attacker's;

Each scenario alternates rounds alone and under attack, so load from elsewhere on the machine hits both alike,
and prints the victim's p50/p99 in both and their ratios. Then the server's resident memory before and after
many distinct documents of the largest allowed size (the document caches are bounded in characters).

    .venv/bin/python bench/fairness.py [--requests 300] [--documents 600 (0: skip)] [--scenarios a,b]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import uuid  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from schema.guards import MAX_DOCUMENT_CHARS  # noqa: E402
from tests.api.fairness import (  # noqa: E402
    Attack,
    Server,
    onboard,
    padded_body,
    percentile,
    serve,
    victim,
    warm,
)
from tests.api.helpers import migrate_db  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
LIMIT = 262_144
SCENARIOS: dict[
    str, tuple[list[str], int, bool]
] = {  # the attacks, the attacker's threads, a new victim document
    "graphql": (["graphql"], 2, False),
    "graphql_valid": (["graphql_valid"], 2, False),
    "bodies": (["declared", "chunked", "full"], 2, False),
    "uncached_victim": (["graphql_valid"], 6, True),
}


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _line(label: str, latencies: list[float]) -> str:
    return (
        f"  {label:<14} p50 {statistics.median(latencies) * 1000:7.2f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:7.2f} ms"
    )


def scenario(
    server: Server,
    keys: dict[str, str],
    name: str,
    requests: int,
    rounds: int = 3,
) -> None:
    kinds, threads, uncached = SCENARIOS[name]
    alone: list[float] = []
    attacked: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    for _ in range(rounds):
        alone += victim(server, "victim", keys["victim"], requests // rounds, uncached)
        attack = Attack(server, "attacker", keys["attacker"], LIMIT, kinds, threads)
        with attack.running():
            attacked += victim(server, "victim", keys["victim"], requests // rounds, uncached)
        for status, count in attack.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        errors += attack.errors
    print(
        f"{name} ({'+'.join(kinds)}, {threads} threads): attacker's answers {statuses}"
        + (f", errors {errors[:2]}" if errors else "")
    )
    print(_line("victim alone", alone))
    print(_line("under attack", attacked))
    p50 = statistics.median(attacked) / statistics.median(alone)
    p99 = percentile(attacked, 0.99) / percentile(alone, 0.99)
    added = (percentile(attacked, 0.99) - percentile(alone, 0.99)) * 1000
    print(f"  ratios         p50 {p50:5.2f}x   p99 {p99:5.2f}x   (p99 added {added:6.1f} ms)")


def memory(server: Server, key: str, documents: int) -> None:
    """RSS before and after `documents` distinct valid documents of the largest allowed size."""
    path = f"{server.base}/api/v1/attacker/graphql"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    before = server.rss_mb()
    with httpx.Client(timeout=60) as client:
        for _ in range(documents):
            head = f"{{ _meta {{ latestLedger }} }} # {uuid.uuid4().hex} "
            document = head + "x" * (MAX_DOCUMENT_CHARS - len(head))
            response = client.post(path, content=padded_body(document, LIMIT), headers=headers)
            assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]
    after = server.rss_mb()
    print(
        f"memory: {documents} distinct {MAX_DOCUMENT_CHARS // 1024} KiB documents in {LIMIT // 1024} KiB bodies: "
        f"RSS {before:.0f} MB -> {after:.0f} MB (+{after - before:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--documents", type=int, default=600)
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, of: " + ", ".join(SCENARIOS)
    )
    args = parser.parse_args()
    names = args.scenarios.split(",")
    if unknown := set(names) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    name = f"obsrvr_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    try:
        migrate_db(url)
        with serve(url, graphql_max_body_bytes=str(LIMIT)) as server:
            keys = onboard(server, ["attacker", "victim"])
            warm(server, keys["attacker"], LIMIT)
            print(f"victim: {args.requests} small GraphQL queries per case; GraphQL body limit {LIMIT} bytes")
            for name in names:
                scenario(server, keys, name, args.requests)
            if args.documents:
                memory(server, keys["attacker"], args.documents)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
