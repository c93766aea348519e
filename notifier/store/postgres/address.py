"""From ``[state] url`` to what libpq connects with, and to how messages name the database.

TLS is verified by default: a database on another host gets ``sslmode=verify-full`` (the
server's certificate must chain to a trusted CA, ``ca_file`` or the system's, and name the
host) unless the URL says otherwise. Loopback and Unix sockets need no TLS.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_LOCAL = frozenset({"127.0.0.1", "::1", "localhost", ""})


def _hosts(options: Mapping[str, object]) -> list[str]:
    return [h.strip() for h in str(options.get("host") or "").split(",")]


def conninfo(url: str, ca_file: Path | None = None) -> str:
    """libpq's connection string for ``url``, with notifier's TLS default."""
    options = conninfo_to_dict(url)
    local = all(h in _LOCAL or h.startswith("/") for h in _hosts(options))
    if "sslmode" not in options and (ca_file is not None or not local):
        options["sslmode"] = "verify-full"
    if ca_file is not None:
        options.setdefault("sslrootcert", str(ca_file))
    return make_conninfo("", **options)


def where(url: str) -> str:
    """The database in messages: ``postgresql://user@host:port/database``, never a password."""
    options = conninfo_to_dict(url)
    ports = str(options.get("port") or "").split(",")
    hosts = [
        f"{host or 'localhost'}{':' + ports[min(n, len(ports) - 1)] if ports[0] else ''}"
        for n, host in enumerate(_hosts(options))
    ]
    user = f"{options['user']}@" if options.get("user") else ""
    return f"postgresql://{user}{','.join(hosts)}/{options.get('dbname', '')}"
