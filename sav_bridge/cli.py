"""`sav-bridge`: serve the gateway, check its set-up, provision the helpdesk, run the demo, try policies.

Exit codes (README, Operations): 0 done; 2 the configuration is wrong (a key, the config or policy
file, the helpdesk plugin, credentials the vendor refuses); 3 a dependency cannot be reached (the
database, X or the helpdesk). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx

from sav_bridge import __version__, logs
from sav_bridge.care.commands import add_commands as add_care_commands
from sav_bridge.config import (
    BaseSettings,
    Settings,
    configured_database_url,
    configured_policy_path,
    load_helpdesk_settings,
    load_settings,
    load_x_settings,
)
from sav_bridge.errors import ConfigError, SavBridgeError, Unavailable
from sav_bridge.helpdesks import available, load_helpdesk
from sav_bridge.ops.cli import COMMANDS as OPERATOR_COMMANDS
from sav_bridge.ops.cli import add_commands as add_operator_commands
from sav_bridge.ops.cli import run as run_operator_command

if TYPE_CHECKING:
    import uvicorn

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def exit_code(exc: SavBridgeError) -> int:
    return EXIT_UNAVAILABLE if isinstance(exc, Unavailable) else EXIT_CONFIG


def port_number(text: str) -> int:
    """`--port`, held to the same range as `server.port`."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("must be an integer between 1 and 65535")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sav-bridge", description=__doc__)
    parser.add_argument("--config", help="YAML configuration file (default: $SAV_BRIDGE_CONFIG)")
    parser.add_argument("--version", action="version", version=f"sav-bridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway and its workers")
    serve.add_argument("--host", help="listen address (default: server.host, 0.0.0.0)")
    serve.add_argument("--port", type=port_number, help="listen port (default: server.port, 8080)")

    doctor = commands.add_parser("check", help="validate the configuration and the policy, serve nothing")
    doctor.add_argument("--online", action="store_true", help="also try the helpdesk and X credentials")

    demo = commands.add_parser("demo", help="play a customer-care conversation on the built-in sandboxes")
    demo.add_argument("--helpdesk", metavar="NAME", help="the plugin to play it on (default: the only one)")
    demo.add_argument("--keep", metavar="DIR", type=Path, default=Path(".sav-bridge-demo"),
                      help="where its data is kept for --console (default .sav-bridge-demo)")  # fmt: skip
    demo.add_argument("--console", action="store_true",
                      help="serve the compliance console on the kept demo data instead of playing")  # fmt: skip
    demo.add_argument("--port", type=port_number, default=8080, help="the console's port (default 8080)")
    commands.add_parser("helpdesks", help="list the installed helpdesk plugins and the one configured")
    migrate = commands.add_parser("migrate", help="bring the database schema up to date (serve does it too)")
    migrate.add_argument("--dry-run", action="store_true", help="say what would be applied, change nothing")
    console = commands.add_parser("console", help="the compliance API").add_subparsers(
        dest="action", required=True
    )
    minting = console.add_parser(
        "token", help="mint a token for the sandbox's compliance API (sandbox mode only)"
    )
    minting.add_argument("--role", required=True, choices=["viewer", "editor", "approver", "operator"])
    minting.add_argument("--sub", required=True, help="who the token names (the author of what it changes)")
    minting.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12)")

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

    add_x_commands(commands)
    add_operator_commands(commands)
    add_care_commands(commands)

    for name in sorted(available()):
        helpdesk = commands.add_parser(name, help=f"{name} set-up")
        actions = helpdesk.add_subparsers(dest="action", required=True)
        provision = actions.add_parser("provision", help="create or update the webhook and trigger")
        provision.add_argument("--public-url", required=True, help="https URL where the helpdesk reaches us")
        provision.add_argument("--dry-run", action="store_true", help="print the requests, change nothing")
        provision.add_argument("--print", dest="dry_run", action="store_true", help="as --dry-run")
    return parser


def add_x_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`sav-bridge x ACTION`: the X channel's set-up. Each action has a parser here and a function in
    `X_ACTIONS`, which loads only the settings that action needs."""
    x = commands.add_parser("x", help="the X channel: connect the brand account, provision, status")
    actions = x.add_subparsers(dest="action", required=True)
    connect = actions.add_parser(
        "connect",
        help="authorise the app on the brand account once (x.auth: oauth2) and store its tokens",
        description="Print X's authorisation address; after the brand account approves, X sends the browser "
        "to the gateway's /oauth/x/callback (the gateway must be running and reachable there), or, with "
        "--paste, paste the address the browser shows. The tokens are stored encrypted in the database.",
    )
    connect.add_argument(
        "--redirect-uri",
        help="callback URI registered in X's developer portal (default: public_url + /oauth/x/callback)",
    )
    connect.add_argument("--paste", action="store_true", help="read the address X redirected to from stdin")
    connect.add_argument(
        "--wait", type=int, default=600, metavar="SECONDS", help="how long to wait for the callback (600)"
    )
    provision = actions.add_parser(
        "provision",
        help="register the webhook with X and subscribe the brand account (idempotent)",
        description="Register PUBLIC_URL/webhooks/x with X (X runs its CRC check against the gateway, which "
        "must be running there), re-validate it if X marks it invalid, then subscribe the brand account "
        "(x.events). Needs x.bearer_token. A second run changes nothing and says so.",
    )
    provision.add_argument("--public-url", required=True, help="https URL where X reaches the gateway")
    provision.add_argument("--dry-run", action="store_true", help="print the requests, send none")
    status = actions.add_parser(
        "status",
        help="webhook validity, subscriptions, last event, token expiry, this month's spend, alerts",
        description="Exit 0 when everything could be read (alerts or not), 2 when X refuses the bearer "
        "token or it is not set, 3 when X cannot be reached.",
    )
    status.add_argument("--json", action="store_true", help="one JSON document, for scripts")


def x_command(args: argparse.Namespace) -> int:
    return X_ACTIONS[args.action](args)


def x_connect(args: argparse.Namespace) -> int:
    from sav_bridge.channels.x.connect import run_connect

    settings = x_settings(args)  # X's keys and the database only: no helpdesk section needed
    return asyncio.run(run_connect(settings, args.redirect_uri, args.paste, args.wait, sys.stdin, sys.stdout))


def x_provision(args: argparse.Namespace) -> int:
    from sav_bridge.channels.x.provision import run_provision

    return asyncio.run(run_provision(x_settings(args), args.public_url, args.dry_run, sys.stdout))


def x_status(args: argparse.Namespace) -> int:
    from sav_bridge.channels.x.status import run_status

    return asyncio.run(run_status(x_settings(args), args.json, sys.stdout))


def x_settings(args: argparse.Namespace) -> Settings:
    """X's settings only (no helpdesk section); these commands talk to X itself, never to a fake."""
    settings = load_x_settings(args.config, os.environ)
    if settings.sandbox:
        raise ConfigError(
            "sandbox", f"is true: x {args.action} talks to X itself; the X fake lives in serve and demo"
        )
    logs.configure(settings.log_level, settings.secrets())
    return settings


#: `sav-bridge x ACTION` → what runs it.
X_ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "connect": x_connect,
    "provision": x_provision,
    "status": x_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return demo_command(args)
        if args.command == "policy":
            return policy_command(args)
        if args.command == "check":
            from sav_bridge.check import run_check

            return asyncio.run(run_check(args.config, os.environ, args.online, sys.stdout, sys.stderr))
        if args.command == "x":
            return x_command(args)
        if args.command == "care":
            from sav_bridge.care.commands import care_section, run

            return run(args, care_section(args.config, os.environ), sys.stdout)
        if args.command in OPERATOR_COMMANDS:
            return run_operator_command(args, os.environ, sys.stdout, sys.stderr)
        if args.command == "console":
            from sav_bridge.console.sandbox import mint

            print(mint(load_settings(args.config, os.environ), args.sub, args.role, args.hours))
            return 0
        if args.command == "migrate":
            from sav_bridge.store.migrations import command

            url = configured_database_url(args.config, os.environ)
            return asyncio.run(command(url, args.dry_run, sys.stdout))
        if args.command == "helpdesks":
            return list_helpdesks(args.config, os.environ, sys.stdout)
        if args.command == "serve":
            settings = load_settings(args.config, os.environ)
            logs.configure(settings.log_level, settings.secrets())
            return serve(settings, args.host, args.port, apart=True, config=args.config)
        helpdesk_settings = load_helpdesk_settings(args.config, os.environ)
        logs.configure(helpdesk_settings.log_level, helpdesk_settings.secrets())
        return asyncio.run(provision(helpdesk_settings, args.command, args.public_url, args.dry_run))
    except SavBridgeError as exc:
        print(f"sav-bridge: {exc}", file=sys.stderr)
        return exit_code(exc)


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


def list_helpdesks(config: str | None, environ: Mapping[str, str], out: TextIO) -> int:
    """One line per installed plugin (name, distribution and version), then which one the configuration
    selects; a configuration that cannot be read is said on that line, the list is still printed."""
    found = available()
    for name in sorted(found):
        dist = found[name].dist
        origin = f"{dist.name} {dist.version}" if dist is not None else "(no distribution)"
        print(f"{name}\t{origin}", file=out)
    if not found:
        print("no helpdesk plugin installed (group sav_bridge.helpdesks)", file=out)
    try:
        selected = load_helpdesk_settings(config, environ).helpdesk
    except SavBridgeError as exc:
        selected = f"none ({exc})"
    print(f"selected by the configuration: {selected}", file=out)
    return 0


def vendor_dir_from_env(environ: os._Environ[str] | dict[str, str]) -> Path | None:
    """The vendors' specs, used by the sandbox to check our requests, when they are available."""
    configured = environ.get("SAV_BRIDGE_VENDOR_DIR")
    candidate = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "vendor"
    return candidate if candidate.is_dir() else None


def demo_command(args: argparse.Namespace) -> int:
    """Play the demo (its data kept), or serve the console on what it kept (`make console`)."""
    from sav_bridge.demo import console_invitation, console_settings, run_demo

    if not args.console:
        return asyncio.run(run_demo(vendor_dir_from_env(os.environ), args.helpdesk, args.keep))
    settings = console_settings(args.keep)
    print(console_invitation(settings, args.port).replace("run `make console`, then ", ""), flush=True)
    return serve(settings, "127.0.0.1", args.port)


def serve(
    settings: Settings, host: str | None, port: int | None, apart: bool = False, config: str | None = None
) -> int:
    """Run the gateway. `apart` (the `serve` command): with `workers.process: separate`, the default, its
    workers run in a child process started with the same `config` and environment
    (`sav_bridge.worker_process`); the demo's console, whose settings are made in code, keeps them here."""
    import uvicorn

    from sav_bridge import shutdown
    from sav_bridge.app import create_app
    from sav_bridge.policy import Policy
    from sav_bridge.policy.live import PolicyFile

    load_helpdesk(settings.helpdesk)  # an unknown plugin stops start-up here, naming those installed
    worker_command = None
    if apart and settings.workers.process == "separate" and settings.workers.count:
        from sav_bridge.worker_process import child_command

        worker_command = child_command(config)
    # An invalid policy stops start-up here, in one line. With the workers apart this process decides
    # nothing by itself: the policy is validated, and compiled only if the console asks (`policy.live`).
    policy = (PolicyFile.read if worker_command else Policy.from_file)(settings.policy_path)
    asyncio.run(preflight(settings))
    transport = sandbox = None
    if settings.sandbox:
        from sav_bridge.sandbox import SERVE_KEEPS, Sandbox

        sandbox = Sandbox(settings, vendor_dir_from_env(os.environ)).keep_last(SERVE_KEEPS)
        transport = sandbox.transport()
    app = create_app(
        settings,
        transport=transport,
        policy=policy,
        worker_command=worker_command,
        serving=True,
        policy_on_demand=worker_command is not None,
    )
    if sandbox is not None:
        sandbox.reach_gateway(httpx.ASGITransport(app=app))  # the fake X's CRC check calls this app
    listening = listen(host or settings.host, port or settings.port)
    server = uvicorn.Server(uvicorn_config(app))
    return shutdown.run(server, app, [listening], settings.shutdown_grace_seconds)  # SIGTERM: see shutdown.py


def uvicorn_config(app: Any) -> uvicorn.Config:
    """How `serve` runs uvicorn (our own JSON logs and access lines); `bench/` serves its baseline the same way."""
    import uvicorn

    return uvicorn.Config(app, log_config=None, access_log=False)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts: a port already taken is one line and exit 3,
    not uvicorn's log line and exit 1."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said explicitly: asyncio sets TCP_NODELAY only on sockets that say it, and without it
    # every keep-alive answer (head, then body) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Unavailable("server", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


async def preflight(settings: BaseSettings) -> None:
    """Open the store (and migrate it) once before uvicorn, whose lifespan would turn a database that is
    down into a traceback: here it is `Unavailable`, one line and exit code 3."""
    from sav_bridge.store import open_store

    store = await open_store(settings.database_url)
    await store.close()


async def provision(
    settings: BaseSettings,
    command: str,
    public_url: str,
    dry_run: bool,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """The helpdesk's own settings and HTTP client only: no store, no X secrets, and a dry run sends
    nothing anywhere. `transport` replaces the network (tests)."""
    from sav_bridge.egress import outbound_client
    from sav_bridge.runtime import USER_AGENT

    if command != settings.helpdesk:
        raise ConfigError("helpdesk", f"names another plugin; set it to {command} to provision {command}")
    plugin = load_helpdesk(settings.helpdesk)
    if transport is None and settings.sandbox:
        from sav_bridge.sandbox import helpdesk_fake

        transport = httpx.MockTransport(helpdesk_fake(settings, vendor_dir_from_env(os.environ)).handle)
    async with outbound_client(settings, transport, headers={"User-Agent": USER_AGENT}) as http:
        await plugin.from_settings(settings, http).provision(public_url, dry_run, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
