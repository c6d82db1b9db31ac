"""``python -m localcloud serve|info``: run the OMS locally, or show a running stack's info."""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8080


def _seed(deployment: Any) -> dict[str, Any]:
    """Load the demo data (``localcloud.seed``) into the deployed stack."""
    from localcloud import seed

    return dict(seed.seed(deployment))


def _quiet_gc() -> None:
    """Keep the garbage collector's pauses out of request latencies.

    The local cloud is one Python process holding every function, moto's state and the API
    front door; a full collection walks all of it, pausing whatever request is running for tens
    to hundreds of milliseconds — a pause AWS's own services never put into a Lambda's call.
    Everything alive once the stack is deployed and seeded is frozen (moved out of the
    collector's generations, as servers such as Instagram's do) and the youngest generation is
    collected less often. Memory stays bounded: reference counting still frees nearly all
    garbage, and cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def serve(args: argparse.Namespace) -> int:
    from localcloud.assembly import ensure_assembly
    from localcloud.server import LocalCloud

    assembly = Path(args.assembly) if args.assembly else ensure_assembly("local")
    stopping = threading.Event()
    # `kill -USR1 <pid>` prints every thread's stack: how to see what a stuck local stack waits on
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    # the front door listens at once but answers 503 until the stack is seeded (API.md: /health
    # is 200 only once every route can be served)
    cloud = LocalCloud(assembly=assembly, stack_name=args.stack, port=args.port, ready=False).start()
    try:
        assert cloud.deployment is not None
        seeded = {} if args.no_seed else _seed(cloud.deployment)
        cloud.mark_ready()
        print(f"API:  {cloud.frontdoor_url}", flush=True)
        print(f"Docs: {cloud.frontdoor_url}/docs", flush=True)
        print(f"AWS endpoint (boto3, AWS CLI): {cloud.endpoint_url}", flush=True)
        for key, owner in (seeded.get("api_keys") or {}).items():
            print(f"API key {key}: {owner}", flush=True)
        _quiet_gc()
        print("OMS local stack ready", flush=True)
        stopping.wait()
    finally:
        cloud.stop()
    return 0


def show_info(args: argparse.Namespace) -> int:
    from localcloud.server import info

    print(json.dumps(info(f"http://127.0.0.1:{args.port}"), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud")
    commands = parser.add_subparsers(dest="command", required=True)
    port = int(os.environ.get("OMS_PORT", DEFAULT_PORT))
    run = commands.add_parser("serve", help="deploy the local stack and serve its API")
    run.add_argument("--port", type=int, default=port, help="front door port (env OMS_PORT)")
    run.add_argument("--assembly", help="cloud assembly directory (default: synthesize the local env)")
    run.add_argument("--stack", default="Oms-local")
    run.add_argument("--no-seed", action="store_true", help="skip localcloud.seed (e.g. for a test stack)")
    run.set_defaults(func=serve)
    show = commands.add_parser("info", help="print /_local/info of a running stack")
    show.add_argument("--port", type=int, default=port)
    show.set_defaults(func=show_info)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
