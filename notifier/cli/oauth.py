"""``notifier oauth login SOURCE``: sign in once for a section whose ``oauth2`` has
``grant = "device_code"`` (RFC 8628: the operator opens the address shown on any device and
enters the code; no browser on the server) or ``"authorization_code"`` (a browser on this
machine, or through ``ssh -L``, reaches a loopback redirect), and store the refresh token the
provider gives; the daemon then renews its access tokens from it (docs/oauth2.md). The
refresh token goes into the state directory with mode 0600; nothing of it is printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from notifier.cli.ops import SettingsLoader
from notifier.core.errors import NotifierError
from notifier.core.printable import say
from notifier.runtime.config import EX_CONFIG, Settings


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: SettingsLoader
) -> None:
    oauth = commands.add_parser(
        "oauth", help="OAuth2 sign-ins for IMAP and SMTP", description=__doc__
    )
    actions = oauth.add_subparsers(title="oauth commands", metavar="ACTION", required=True)
    login = actions.add_parser(
        "login",
        help="sign in once (a device code, or a browser) and store the refresh token",
        description="Sign in once, by a device code (open the address shown on any device and "
        "enter the code) or in a browser (grant = 'authorization_code'), and store the "
        "refresh token in the state directory.",
    )
    login.add_argument("source", help="smtp, or the name of an [[imap]] source")
    login.add_argument(
        "--config",
        type=Path,
        help="configuration file (default: $NOTIFIER_CONFIG or /etc/notifier/config.toml)",
    )
    login.set_defaults(handler=lambda args: login_command(args, settings(args, required=True)))


def login_command(
    args: argparse.Namespace, settings: Settings, show: Callable[[str], None] | None = None
) -> int:
    from notifier.oauth2 import DeviceLogin, RefreshStore, TokenError, browser_login, device_login
    from notifier.runtime.bootstrap import sign_in_of

    try:
        login, store, ca_file = sign_in_of(settings, args.source)
    except NotifierError as exc:
        say(f"notifier: {exc}", err=True)
        return EX_CONFIG
    tell = show or (lambda text: say(text, flush=True))
    try:
        if isinstance(login, DeviceLogin):
            refresh = device_login(login, show=tell, ca_file=ca_file)
        else:
            refresh = browser_login(login, show=tell, ca_file=ca_file)
    except TokenError as exc:
        say(f"notifier: sign-in failed: {exc}", err=True)
        return 1
    RefreshStore(store).save(refresh)
    say(f"signed in: the refresh token for {args.source} is stored in {store} (mode 0600)")
    return 0
