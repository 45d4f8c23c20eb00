"""`divoom-hub`: the command line. Parses arguments, calls into the hub, prints results."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from hub import installed_version
from hub.config import (
    CONFIG_ENV,
    ConfigError,
    check_http_access,
    default_state_dir,
    load_config,
)
from hub.ingest.reports import Level
from hub.notify.embeds import embed_for, message_payload
from hub.replay import (
    ReplayAction,
    ReplayError,
    ReplayEvent,
    check_until,
    notice_record,
    parse_history,
    replay,
)
from hub.secrets import RedactingFilter, Secrets, SecretsError, load_secrets
from machines.diagram import DIAGRAMS

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_STALE = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except (ConfigError, ReplayError, SecretsError) as err:
        print(f"divoom-hub {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`replay … | head`): not an error of ours.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
        return EXIT_OK
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="divoom-hub",
        description="A Pixoo 64 dashboard that watches what it depends on and tells you "
                    "on Discord.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run on the embedded default: simulated sources with a scripted outage")
    demo.add_argument("--seconds", type=float, default=None,
                      help="stop after this many seconds (default: run until Ctrl-C)")
    demo.add_argument("--state-dir", type=Path, default=None, metavar="D",
                      help="where frames and the outbox go (default: the demo/ folder of "
                           "~/.local/state/divoom-hub)")
    demo.add_argument("--http-listen", default=None, metavar="ADDR",
                      help="the status page's host:port (default: 127.0.0.1:8787; "
                           "\"\" turns it off)")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser("run", help="run the daemon in the foreground")
    _config_argument(run)
    run.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    run.set_defaults(handler=_run)

    check = commands.add_parser(
        "check", help="validate the configuration and reach every configured endpoint")
    _config_argument(check)
    check.set_defaults(handler=_check)

    rep = commands.add_parser(
        "replay", help="dry-run the policies on a recorded history (JSON lines)")
    rep.add_argument("file", help="history file, or - for standard input")
    _config_argument(rep)
    # Read as text and checked by `check_until`, so a bad value is one line like the rest.
    rep.add_argument("--until", default=None, metavar="T",
                     help="run virtual time until T seconds (default: the latest event)")
    rep.add_argument("--embeds", action="store_true",
                     help="print the Discord payloads of what would be sent instead of the "
                          "notices")
    rep.add_argument("--all", action="store_true",
                     help="also print the notices the notification policy holds, each with "
                          "\"held\": its reason")
    rep.set_defaults(handler=_replay)

    notify = commands.add_parser(
        "notify", help="send a diagnostic to a running hub (POST /api/notify)")
    notify.add_argument("level", choices=[level.value for level in Level])
    notify.add_argument("service", help="who reports, e.g. backup")
    notify.add_argument("message", help="what to say")
    notify.add_argument("-d", "--detail", action="append", default=[], metavar="LABEL=VALUE",
                        help="a detail shown as a field (repeatable)")
    notify.add_argument("--url", default="http://127.0.0.1:8787",
                        help="the hub's status server (default: http://127.0.0.1:8787); "
                             "the token, if any, comes from HUB_HTTP_TOKEN")
    notify.set_defaults(handler=_notify)

    preview = commands.add_parser(
        "preview", help="draw what the Pixoo would show now into a PNG, without sending it")
    _config_argument(preview)
    preview.add_argument("--page", default=None, metavar="NAME",
                         help="draw this page (a [[page]] name, or dashboard, clock, bus, "
                              "alerts, message) instead of the first whose turn it is")
    preview.add_argument("--out", type=Path, default=Path("preview.png"), metavar="FILE",
                         help="where the PNG goes (default: ./preview.png)")
    preview.add_argument("--scale", type=int, default=8, choices=range(1, 17), metavar="N",
                         help="pixels per LED, 1 to 16 (default: 8, a 512×512 picture)")
    preview.set_defaults(handler=_preview)

    for name, text in (("mute", "hold a component's alerts and reminders for a while"),
                       ("unmute", "lift a mute: an alert held meanwhile is sent now"),
                       ("ack", "acknowledge an open incident: its reminders stop"),
                       ("silences", "list the silences in force and the open incidents")):
        sub = commands.add_parser(name, help=f"{text} (through the hub's HTTP API)")
        if name != "silences":
            sub.add_argument("component", help="a component, or all"
                             + (", or an incident such as bus#3" if name == "ack" else ""))
        if name == "mute":
            sub.add_argument("duration", help="30m, 2h, 1d (at most 7d)")
        if name in ("mute", "ack"):
            sub.add_argument("reason", nargs="?", default="", help="why (announced)")
        _config_argument(sub)
        sub.add_argument("--url", default=None,
                         help="the hub's status server (default: http://[hub] http_listen "
                              "of the config); the token comes from HUB_HTTP_TOKEN")
        sub.add_argument("--by", default="", help="who does it (default: $USER on this host)")
        sub.set_defaults(handler=_silences if name == "silences" else _silence)

    diagrams = commands.add_parser(
        "diagrams", help="write the state diagrams generated from the running machines")
    diagrams.add_argument("--check", action="store_true",
                          help="write nothing; exit 1 if the files differ from the machines")
    diagrams.add_argument("--dir", type=Path, default=Path("diagrams"),
                          help="where the diagrams live (default: ./diagrams)")
    diagrams.set_defaults(handler=_diagrams)
    return parser


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help=f"hub.toml to use (default: ${CONFIG_ENV}, else built-in defaults)")


def _dotenv_for(config_path: Path | None) -> Path:
    """Secrets live in `.env` beside the config (or in the working directory)."""
    return (config_path.parent if config_path else Path.cwd()) / ".env"


def _replay(args: argparse.Namespace) -> int:
    if args.all and args.embeds:
        raise ReplayError("--all and --embeds: held notices have no Discord payload; "
                          "use one or the other")
    until = check_until(args.until) if args.until is not None else None
    try:
        if args.file == "-":
            events = parse_history(sys.stdin.buffer, "<stdin>")
        else:
            with open(args.file, "rb") as handle:
                events = parse_history(handle, args.file)
    except OSError as err:
        raise ReplayError(f"{args.file}: cannot read: {err.strerror}") from None
    # `[policy.<name>]` may name any component of the history (README, "replay").
    config = load_config(args.config, history={event.component for event in events
                                               if isinstance(event, ReplayEvent)})

    def refused(action: ReplayAction, reason: str) -> None:
        # the reply an operator would get; the replay goes on, as the hub would
        print(f"divoom-hub replay: {args.file}:{action.line}: {action.action} refused: "
              f"{reason}", file=sys.stderr)

    for scenario, notice in replay(events, config, until=until, on_refused=refused):
        if not (args.all or notice.is_sent):
            continue
        if args.embeds:
            line = message_payload([embed_for(notice, config.hub.name)])
        else:
            line = notice_record(scenario, notice)
        print(json.dumps(line, ensure_ascii=False))
    return EXIT_OK


def _diagrams(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    stale = []
    for name, render in DIAGRAMS.items():
        path = directory / name
        text = render()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        for path in stale:
            print(f"{path} is out of date with the machines", file=sys.stderr)
        print("run `divoom-hub diagrams` and commit the result", file=sys.stderr)
        return EXIT_STALE
    if args.check:
        print(f"{directory}: up to date")
    return EXIT_OK


def _notify(args: argparse.Namespace) -> int:
    from hub.client import NotifyError, notify

    details = {}
    for item in args.detail:
        label, sep, value = item.partition("=")
        if not sep or not label.strip():
            print(f"divoom-hub notify: --detail: expected LABEL=VALUE, got {item!r}",
                  file=sys.stderr)
            return EXIT_USAGE
        details[label.strip()] = value
    secrets = load_secrets(os.environ, _dotenv_for(None))
    try:
        answer = notify(args.level, args.service, args.message, details or None, url=args.url,
                        token=secrets.hub_http_token or None)
    except NotifyError as err:
        print(f"divoom-hub notify: {err}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"sent: {args.level} from {args.service}")
    if answer.get("warning"):  # kept, but not deliverable yet: say so, still a success
        print(f"divoom-hub notify: warning: {answer['warning']}", file=sys.stderr)
    return EXIT_OK


def _hub_url(args: argparse.Namespace) -> tuple[str, str | None]:
    """The running hub's address (`--url`, else the config's http_listen) and token."""
    config = load_config(args.config)
    secrets = load_secrets(os.environ, _dotenv_for(config.path))
    if args.url:
        return args.url, secrets.hub_http_token or None
    if not config.hub.http_listen:
        raise ConfigError(f"{config.path or 'the default config'}: [hub] http_listen is off, "
                          "so the hub has no HTTP API to reach: set it, or pass --url")
    return f"http://{config.hub.http_listen}", secrets.hub_http_token or None


def _silence(args: argparse.Namespace) -> int:
    import getpass
    import socket

    from hub.client import NotifyError
    from hub.silences_client import change

    url, token = _hub_url(args)
    by = args.by or f"{getpass.getuser()}@{socket.gethostname()}"
    try:
        reply = change(args.command, args.component, duration=getattr(args, "duration", ""),
                       reason=getattr(args, "reason", ""), by=by, url=url, token=token)
    except NotifyError as err:
        print(f"divoom-hub {args.command}: {err}", file=sys.stderr)
        return EXIT_FAILURE
    print(reply)
    return EXIT_OK


def _silences(args: argparse.Namespace) -> int:
    from hub.client import NotifyError
    from hub.silences_client import silences

    url, token = _hub_url(args)
    try:
        answer = silences(url, token)
    except NotifyError as err:
        print(f"divoom-hub silences: {err}", file=sys.stderr)
        return EXIT_FAILURE
    found = answer.get("silences", [])
    if not found:
        print("no silences: every alert and reminder is sent")
    for s in found:
        until = f"until {s['until']}" if s.get("until") else "until it recovers"
        who = f", by {s['by']}" if s.get("by") else ""
        why = f": {s['reason']}" if s.get("reason") else ""
        print(f"{s['kind']:<12} {s['target']:<16} {until}{who}{why}")
    incidents = [i["incident"] for i in answer.get("incidents", [])]
    if incidents:
        print(f"open incidents: {', '.join(incidents)}")
    if answer.get("notifications") is False:
        print("notifications are off ([hub] notifications = false): nothing is sent")
    return EXIT_OK


def _log_to_stderr(secrets: Secrets, verbose: bool) -> None:
    """Log lines on stderr, every secret scrubbed from them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        handlers=[handler], force=True)
    if not verbose:
        # transitions logs every callback and aiohttp every request at INFO: noise here.
        for chatty in ("transitions", "aiohttp.access"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from hub.app import StartupError, run_daemon
    from hub.service import Service

    config = load_config(args.config)
    secrets = load_secrets(os.environ, _dotenv_for(config.path))
    check_http_access(config, has_token=bool(secrets.hub_http_token))
    _log_to_stderr(secrets, verbose=args.verbose)
    if config.path is None:  # the built-in defaults watch no source, monitor or device
        logging.getLogger(__name__).warning(
            "no configuration given, so nothing is watched: pass -c/--config hub.toml or "
            "set %s (start from hub.example.toml)", CONFIG_ENV)
    async def main_task() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # Under systemd: READY=1, STATUS, watchdog pings while the loop lives, STOPPING=1.
        async with Service.from_environ(os.environ, stop) as service:
            return await run_daemon(config, secrets, lambda line: print(line, flush=True),
                                    stop, on_ready=service.ready)

    try:
        return asyncio.run(main_task())
    except StartupError as err:
        print(f"divoom-hub run: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # noqa: BLE001 - a crash: run_daemon logged it (secrets redacted)
        return EXIT_FAILURE  # and announced it; systemd starts the hub again


def _preview(args: argparse.Namespace) -> int:
    from hub.display.preview import scaled_png
    from hub.frame_now import UnknownPage, frame_now

    config = load_config(args.config)
    try:
        frame = frame_now(config, args.page)
    except UnknownPage as err:
        print(f"divoom-hub preview: {err}", file=sys.stderr)
        return EXIT_USAGE
    for warning in frame.warnings:
        print(f"divoom-hub preview: warning: {warning}", file=sys.stderr)
    try:
        args.out.write_bytes(scaled_png(frame.image, args.scale))
    except OSError as err:
        print(f"divoom-hub preview: {args.out}: cannot write: {err.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    size = frame.image.width * args.scale
    print(f"wrote {args.out}: the {frame.page} page, {size}x{size}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from hub.check.report import run_checks

    config = load_config(args.config)
    secrets = load_secrets(os.environ, _dotenv_for(config.path))
    # A public http_listen without a token is one FAIL line among the rest here (`run`
    # refuses it outright): a report that stops at the first problem hides the others.
    findings = run_checks(config, secrets)
    for finding in findings:
        print(finding.line())
    return EXIT_OK if all(f.ok for f in findings) else EXIT_FAILURE


def _demo(args: argparse.Namespace) -> int:
    from hub.app import StartupError
    from hub.demo import DEMO_LISTEN, run_demo  # asyncio wiring that replay does not need
    from hub.web.startup import StatusServerError

    secrets = load_secrets(os.environ, _dotenv_for(None))
    _log_to_stderr(secrets, verbose=False)
    listen = DEMO_LISTEN if args.http_listen is None else args.http_listen
    state_dir = args.state_dir or default_state_dir() / "demo"
    try:
        return run_demo(lambda line: print(line, flush=True), secrets, state_dir=state_dir,
                        http_listen=listen, seconds=args.seconds)
    except (StartupError, StatusServerError) as err:  # a bad or public --http-listen
        print(f"divoom-hub demo: {err}", file=sys.stderr)
        return EXIT_USAGE
