"""`sav-bridge`: serve the gateway, provision the helpdesk, run the demo, check posting policies."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sav_bridge import logs
from sav_bridge.config import Settings, configured_policy_path, load_settings
from sav_bridge.errors import SavBridgeError
from sav_bridge.helpdesks import available


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sav-bridge", description=__doc__)
    parser.add_argument("--config", help="YAML configuration file (default: $SAV_BRIDGE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway and its workers")
    serve.add_argument("--host", help="listen address (default: server.host, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port, 8080)")

    commands.add_parser("demo", help="play a customer-care conversation on the built-in sandboxes")

    policy = commands.add_parser("policy", help="validate and try posting policies (for compliance staff)")
    policy_actions = policy.add_subparsers(dest="action", required=True)
    validate = policy_actions.add_parser(
        "validate",
        help="report every error of each policy file",
        description="Print every error as FILE:LINE: key: message, then a summary. "
        "Exit 0 when every file is valid, 2 otherwise.",
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check = policy_actions.add_parser(
        "check",
        help="say what would happen to one text, or to JSON lines from stdin (nothing is posted)",
        description="A trial: nothing is posted. Exit 0 when the reply would be posted as written, "
        "3 when it would be changed (parts masked, or sent as a DM instead), 4 when it would not be posted, "
        "2 for a usage error, an invalid policy or an unreadable --jsonl line; with --jsonl, the worst line.",
    )
    check.add_argument("--policy", type=Path, help="policy file (default: policy.path of the configuration)")
    check.add_argument("--audience", choices=["public", "dm"], default="public", help="default: public")
    check.add_argument(
        "--jsonl", action="store_true", help='read {"id", "text", "audience"} lines on stdin ("id" is echoed)'
    )
    check.add_argument("text", nargs="?", help="the reply to check")

    for name in sorted(available()):
        helpdesk = commands.add_parser(name, help=f"{name} set-up")
        actions = helpdesk.add_subparsers(dest="action", required=True)
        provision = actions.add_parser("provision", help="create or update the webhook and trigger")
        provision.add_argument("--public-url", required=True, help="https URL where the helpdesk reaches us")
        provision.add_argument("--dry-run", action="store_true", help="print the requests, change nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from sav_bridge.demo import run_demo

            return asyncio.run(run_demo(vendor_dir_from_env(os.environ)))
        if args.command == "policy":
            return policy_command(args)
        settings = load_settings(args.config, os.environ)
        logs.configure(settings.log_level, settings.secrets())
        if args.command == "serve":
            return serve(settings, args.host, args.port)
        return asyncio.run(provision(settings, args.public_url, args.dry_run))
    except SavBridgeError as exc:
        print(f"sav-bridge: {exc}", file=sys.stderr)
        return 2


def policy_command(args: argparse.Namespace) -> int:
    from sav_bridge.model import Audience
    from sav_bridge.policy import Policy, console

    if args.action == "validate":
        return console.validate(args.files, sys.stdout)
    try:
        policy = Policy.from_file(args.policy or configured_policy_path(args.config, os.environ))
    except SavBridgeError as exc:
        print(f"sav-bridge: {exc}", file=sys.stderr)
        return console.INVALID
    audience = Audience(args.audience)
    if args.jsonl:
        return console.check_jsonl(policy, audience, sys.stdin, sys.stdout, sys.stderr)
    if args.text is None:
        print("sav-bridge: policy check needs a text, or --jsonl to read stdin", file=sys.stderr)
        return console.INVALID
    return console.check(policy, args.text, audience, sys.stdout, color=sys.stdout.isatty())


def vendor_dir_from_env(environ: os._Environ[str] | dict[str, str]) -> Path | None:
    """The vendors' specs, used by the sandbox to check our requests, when they are available."""
    configured = environ.get("SAV_BRIDGE_VENDOR_DIR")
    candidate = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "vendor"
    return candidate if candidate.is_dir() else None


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from sav_bridge.app import create_app
    from sav_bridge.policy import Policy

    transport = None
    if settings.sandbox:
        from sav_bridge.sandbox import Sandbox

        transport = Sandbox(settings, vendor_dir_from_env(os.environ)).transport()
    policy = Policy.from_file(settings.policy_path)  # an invalid policy stops start-up here, in one line
    app = create_app(settings, transport=transport, policy=policy)
    uvicorn.run(
        app, host=host or settings.host, port=port or settings.port, log_config=None, access_log=False
    )
    return 0


async def provision(settings: Settings, public_url: str, dry_run: bool) -> int:
    from sav_bridge.runtime import Runtime

    transport = None
    if settings.sandbox:
        from sav_bridge.sandbox import Sandbox

        transport = Sandbox(settings, vendor_dir_from_env(os.environ)).transport()
    runtime = await Runtime.start(settings, transport=transport)
    try:
        await runtime.helpdesk.provision(public_url, dry_run, sys.stdout)
    finally:
        await runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
