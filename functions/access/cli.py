"""Operator CLI for API keys (any environment; the local seed uses the same KeyManager).

    python -m functions.access.cli issue   --stack Oms-dev --role channel --principal my-webshop
    python -m functions.access.cli disable --stack Oms-dev --key <value>

The table and usage plans come from the stack's outputs. The key value is printed once and
stored only as a SHA-256 hash.
"""

from __future__ import annotations

import argparse
import sys

from functions.access.adapters.key_store import USAGE_PLAN_OUTPUTS
from functions.access.wiring import key_manager
from functions.access.keys import KeyManager


def manager_for(stack: str) -> KeyManager:
    import boto3

    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return key_manager({o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.access.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a key for a principal")
    issue.add_argument("--stack", required=True)
    issue.add_argument("--role", required=True, choices=sorted(USAGE_PLAN_OUTPUTS))
    issue.add_argument("--principal", required=True, help="channel id, node id, agent or finance user")
    disable = sub.add_parser("disable", help="disable a key (it answers 403 from then on)")
    disable.add_argument("--stack", required=True)
    disable.add_argument("--key", required=True)
    args = parser.parse_args(argv)

    manager = manager_for(args.stack)
    if args.command == "issue":
        value, record = manager.issue(args.role, args.principal)
        print(f"{value}\t{record.role}\t{record.principal_id}")
        return 0
    disabled = manager.disable(args.key)
    if disabled is None:
        print("no such key", file=sys.stderr)
        return 1
    print(f"disabled {disabled.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
