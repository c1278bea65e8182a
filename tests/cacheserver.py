"""A real HTTP build-cache server for the tests: nginx with its WebDAV module.

nginx (Debian package ``nginx``, installed by ``scripts/setup.sh test``)
serves ``GET``/``HEAD`` from a folder and stores ``PUT`` bodies there, which is
all Bazel's HTTP cache protocol needs. :class:`Nginx` starts one on
127.0.0.1 with a free port, a private configuration and storage folder, and
stops it; nothing outside its folder is touched.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CONFIG = """\
{user}daemon off;
worker_processes 1;  # one worker: the access log is in request order
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {base}/store;
        client_max_body_size 0;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """The nginx program, looked up on PATH and in /usr/sbin (not on a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """One nginx serving ``<base>/store`` on ``http://127.0.0.1:<port>``."""

    def __init__(self, base: Path, binary: str) -> None:
        self.base, self.binary = base, binary
        self.store = base / "store"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 5) -> None:
        """Start on a free port (another one if it was taken meanwhile)."""
        for sub in ("store", "tmp"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        # As root, nginx's workers would run as nobody, who cannot write to a private folder.
        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
        for _ in range(attempts):
            self.port = free_port()
            conf = self.base / "nginx.conf"
            conf.write_text(CONFIG.format(base=self.base, port=self.port, user=user))
            argv = [self.binary, "-p", str(self.base), "-e", str(self.base / "error.log"), "-c", str(conf)]
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready():
                return
        raise RuntimeError(f"nginx did not start: {self.errors()}")

    def _wait_ready(self, timeout: float = 10) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def errors(self) -> str:
        stderr = self.proc.stderr.read().decode(errors="replace") if self.proc and self.proc.stderr \
            and self.proc.poll() is not None else ""
        log = self.base / "error.log"
        return (stderr + (log.read_text(errors="replace") if log.exists() else "")).strip()

    def stop(self) -> None:
        """Stop nginx (quickly: SIGTERM) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def requests(self) -> list[str]:
        """The request lines of the access log: ``PUT /ac/... HTTP/1.1 201``..."""
        log = self.base / "access.log"
        if not log.exists():
            return []
        lines = []
        for line in log.read_text().splitlines():
            _, _, rest = line.partition('"')
            request, _, after = rest.partition('"')
            lines.append(f"{request} {after.split()[0] if after.split() else ''}")
        return lines

    def files(self, kind: str) -> list[Path]:
        folder = self.store / kind
        return sorted(folder.iterdir()) if folder.is_dir() else []
