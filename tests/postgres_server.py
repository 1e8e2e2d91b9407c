"""A throwaway PostgreSQL server for tests: initdb on a temp dir, a free port, stopped at the end.

Debian's `postgresql` package (installed by .ci/run) puts the server binaries under
/usr/lib/postgresql/<major>/bin. PostgreSQL refuses to run as root, so as root the server runs
as the `postgres` user the package creates. Authentication is `trust` on 127.0.0.1 only.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.waits import STARTUP_S

USER = "mpyforge"


def server_bin_dir() -> Path | None:
    """Directory of initdb/pg_ctl, newest major version first; None when PostgreSQL is absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]), reverse=True)
    if found:
        return Path(found[0]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    def __init__(self, bin_dir: Path, port: int):
        self.bin_dir, self.port = bin_dir, port

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL (one per test keeps tests independent)."""
        name = f"dagster_{uuid.uuid4().hex[:10]}"
        subprocess.run(
            [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
            check=True,
            capture_output=True,
            text=True,
            timeout=STARTUP_S,
        )
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"


@contextmanager
def running_postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    # Not under pytest's tmp_path: its parents are private to root and the server user must enter.
    base = Path(tempfile.mkdtemp(prefix="mpyforge-pg-"))
    base.chmod(0o755)
    data, log = base / "data", base / "server.log"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run(_as_server_user(list(command)), check=True, capture_output=True, text=True, timeout=STARTUP_S)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        # -w waits until the server accepts connections (readiness, not a fixed sleep).
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", str(STARTUP_S), "start"
        )
        try:
            yield PostgresServer(bin_dir, port)
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    except subprocess.CalledProcessError as exc:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{exc.cmd} failed: {exc.stderr}\n{tail}") from exc
    finally:
        shutil.rmtree(base, ignore_errors=True)
