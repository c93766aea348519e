"""``notifier migrate-state --to postgresql://...``: move a SQLite state whole into an empty
PostgreSQL database, so that two or more instances can share it (docs/high-availability.md).

The source is the state in ``[state] directory``, locked as the daemon locks it (stop the
daemon first). Every row moves with its id and hashes, in one transaction of the target; the
chain is then verified on the target and must end where the source's did.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from notifier.cli.context import settings_from
from notifier.core.errors import ConfigError, StateError
from notifier.core.printable import printable, say


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to", required=True, metavar="URL",
        help="the PostgreSQL database, as libpq's URL without the password",
    )  # fmt: skip
    parser.add_argument(
        "--password-file", type=Path, help="the database password (default: [state]'s)"
    )
    parser.add_argument(
        "--password-credential", help="the database password from this systemd credential"
    )


def migrate_state_command(args: argparse.Namespace) -> int:
    from notifier.runtime import bootstrap
    from notifier.runtime.config import StateSettings

    settings = settings_from(args, required=False)
    state = settings.state
    given = args.password_file is not None or args.password_credential is not None
    try:
        target = StateSettings(
            directory=state.directory,
            url=args.to,
            password_file=args.password_file if given else state.password_file,
            password_credential=args.password_credential if given else state.password_credential,
            ca_file=state.ca_file,
        )
    except ValidationError as exc:
        problems = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise ConfigError(f"--to: {problems}") from None
    source_settings = settings.model_copy(
        update={"state": StateSettings(directory=state.directory)}
    )
    target_settings = settings.model_copy(update={"state": target})
    with bootstrap.open_outbox(source_settings) as source:
        before = source.verify()
        if not before.ok:
            raise StateError(
                f"{source.where}: the audit chain does not verify ({before.problems[0].message}); "
                "nothing was copied (see notifier audit verify)"
            )
        with bootstrap.open_outbox(target_settings, exclusive=False) as store:
            copied = bootstrap.copy_state(source, store)
            before = source.verify()  # rows from before the chain are sealed now
            after = store.verify()
            where = store.where
    say(
        f"copied to {printable(where)}: "
        + ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in copied.items())
    )
    same = (after.rows, after.head_id, after.head_hash) == (
        before.rows,
        before.head_id,
        before.head_hash,
    )
    if not (after.ok and same):
        say(
            f"the audit chain on {printable(where)} does not match the source's: "
            f"{after.problems[0].message if after.problems else 'different head'}",
            err=True,
        )
        return 1
    say(
        f"audit verify on the target: ok, {after.rows} rows, head #{after.head_id} "
        f"{after.head_hash[:16]}...; now set [state] url = {printable(args.to)!r} on every "
        "instance and start them"
    )
    return 0
