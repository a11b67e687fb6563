"""A throw-away PostgreSQL server on 127.0.0.1 for the tests and the vote benchmark.

It runs the server's own binaries (`initdb`, `pg_ctl`; Debian puts them in /usr/lib/postgresql/<version>/bin)
on a fresh temporary data directory, with a random password and a free TCP port, and deletes everything on
exit. As root, the binaries run as the `postgres` user, because `initdb` refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

USER = "arena"
# Settings that trade crash safety for speed; only the tests ask for them.
UNSAFE_FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_postgres_bin() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`: the newest Debian install, else the PATH, else None."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if debian:
        return debian[-1].parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


class PostgresServer:
    """A running server. `create_schema()` gives a fresh, empty namespace and a SQLAlchemy URL that uses it,
    much faster than a new database (CREATE DATABASE copies a template and takes a good part of a second)."""

    def __init__(self, port: int, password: str) -> None:
        self.port = port
        self.password = password

    def create_schema(self, name: str) -> str:
        """Create the schema `name` in the database `postgres`; returns a URL whose connections use it."""
        if not name.isidentifier():
            raise ValueError(f"schema names here are plain identifiers, not {name!r}")
        conninfo = f"host=127.0.0.1 port={self.port} user={USER} password={self.password} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        url = f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/postgres"
        return f"{url}?options=-csearch_path%3D{name}"


@contextlib.contextmanager
def postgres_server(
    bindir: Path, *, settings: dict[str, str] | None = None, max_connections: int = 300
) -> Iterator[PostgresServer]:
    """Start a server from the binaries in `bindir`, yield it, then stop it and delete its files.

    `settings` are extra server options (`name: value`), for example `UNSAFE_FAST`.
    """
    root = Path(tempfile.mkdtemp(prefix="molmo-arena-pg-"))
    run_as = _unprivileged_prefix(root)
    datadir, password = root / "data", secrets.token_urlsafe(24)
    password_file = root / "password"
    password_file.write_text(password)
    if run_as:
        shutil.chown(password_file, "postgres")
    try:
        _run([*run_as, bindir / "initdb", "-D", datadir, "-U", USER, f"--pwfile={password_file}",
              "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"], cwd=root)
        password_file.unlink()
        port = _free_port()
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(datadir),
            "max_connections": str(max_connections),
            **(settings or {}),
        }
        with (datadir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = '{value}'\n" for name, value in options.items())
        log = root / "server.log"
        _run([*run_as, bindir / "pg_ctl", "-D", datadir, "-l", log, "-w", "-t", "60", "start"], cwd=root)
        try:
            yield PostgresServer(port, password)
        finally:
            _run([*run_as, bindir / "pg_ctl", "-D", datadir, "-m", "immediate", "-w", "stop"], cwd=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _unprivileged_prefix(root: Path) -> list[str]:
    """As root, hand `root` to the `postgres` user and return the command prefix that runs as it."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as error:
        raise RuntimeError("running as root needs a 'postgres' user to run the PostgreSQL server") from error
    shutil.chown(root, "postgres", "postgres")
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list[str | Path], cwd: Path) -> None:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log = cwd / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}{detail}")
