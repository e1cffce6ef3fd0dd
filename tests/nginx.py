"""A real nginx on 127.0.0.1 for the fetch tests: its own config in a temporary directory, free ports, TLS
certificates from a trustme CA (one good, one for another host name, one expired, one TLS 1.0-only
server), stopped by its pid.

The access log is one JSON object per request, so tests can assert what supportctl sent (conditional
headers, `Range`, who logged in).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

USER = "alice"
PASSWORD = "s3cret"

LOG_FORMAT = (
    "log_format t escape=json '{"
    '"method":"$request_method","uri":"$request_uri","status":$status,"bytes":$body_bytes_sent,'
    '"if_none_match":"$http_if_none_match","if_modified_since":"$http_if_modified_since",'
    '"range":"$http_range","if_range":"$http_if_range","user":"$remote_user",'
    '"authorization":"$http_authorization","accept_encoding":"$http_accept_encoding"'
    "}';"
)

# The locations every server block has. `{port}` is the plain http port (for redirects across schemes).
LOCATIONS = """
    root {www};
    default_type application/octet-stream;
    etag on;
    location = /page.zip {{ types {{ }} default_type "text/html; charset=utf-8"; }}
    location = /page-as-zip.zip {{ types {{ }} default_type application/zip; }}
    location = /gzipped.zip {{ add_header Content-Encoding gzip; }}
    location = /loop-a {{ return 302 /loop-b; }}
    location = /loop-b {{ return 302 /loop-a; }}
    location = /to-file {{ return 302 file:///etc/passwd; }}
    location = /to-ftp {{ return 302 ftp://127.0.0.1/pkg.zip; }}
    location = /to-http {{ return 302 http://127.0.0.1:{port}/pkg.zip; }}
    location = /to-other-origin {{ return 302 https://127.0.0.1:{port2}/pkg.zip; }}
    location = /busy {{ add_header Retry-After 120 always; return 503; }}
    location = /limited {{ add_header Retry-After 30 always; return 429; }}
    location /private/ {{
        auth_basic "packages";
        auth_basic_user_file {htpasswd};
    }}
"""

# nginx cannot subtract; a chain of n hops is /chain-n -> /chain-(n-1) ... -> /pkg.zip, spelled out.
CHAIN = "    location = /chain-{n} {{ return 302 {target}; }}\n"


@dataclass
class Nginx:
    dir: Path
    www: Path
    ca_pem: Path
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str, server: str = "http") -> str:
        scheme = "http" if server == "http" else "https"
        return f"{scheme}://127.0.0.1:{self.ports[server]}{path}"

    def log(self) -> list[dict[str, object]]:
        path = self.dir / "access.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def clear_log(self) -> None:
        (self.dir / "access.log").write_text("")
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGUSR1)  # reopen the log file
        time.sleep(0.2)

    def put(self, name: str, data: bytes) -> Path:
        path = self.www / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _write_certs(d: Path) -> Path:
    import trustme

    ca = trustme.CA()
    ca_pem = d / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    now = dt.datetime.now(dt.timezone.utc)
    certs = {
        "good": ca.issue_cert("127.0.0.1"),
        "wronghost": ca.issue_cert("packages.example.org"),
        "expired": ca.issue_cert(
            "127.0.0.1", not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=30)
        ),
        "old": ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA),
    }
    for name, cert in certs.items():
        cert.private_key_pem.write_to_path(str(d / f"{name}.key"))
        cert.cert_chain_pems[0].write_to_path(str(d / f"{name}.crt"))
    return ca_pem


def _config(n: Nginx, htpasswd: Path) -> str:
    locations = LOCATIONS.format(www=n.www, htpasswd=htpasswd, port=n.ports["http"], port2=n.ports["https2"])
    chain = "".join(CHAIN.format(n=i, target="/pkg.zip" if i == 1 else f"/chain-{i - 1}") for i in range(1, 8))
    tls = {
        "https": "good",
        "https2": "good",
        "wronghost": "wronghost",
        "expired": "expired",
        "tls10": "old",
    }
    servers = [f"    server {{ listen 127.0.0.1:{n.ports['http']}; {locations}{chain}    }}"]
    for server, cert in tls.items():
        protocols = "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;" if server == "tls10" else ""
        servers.append(
            f"    server {{ listen 127.0.0.1:{n.ports[server]} ssl;"
            f" ssl_certificate {n.dir / (cert + '.crt')}; ssl_certificate_key {n.dir / (cert + '.key')};"
            f" {protocols} {locations}{chain}    }}"
        )
    # A forward proxy for plain http (nginx has no CONNECT): passes each request to the Host it names.
    servers.append(
        f"    server {{ listen 127.0.0.1:{n.ports['proxy']};"
        " location / { proxy_pass http://$http_host; proxy_connect_timeout 3s; } }"
    )
    user = "user root root;" if os.geteuid() == 0 else ""
    temp = n.dir / "tmp"
    return f"""
daemon off;
master_process on;
worker_processes 1;
{user}
pid {n.dir / "nginx.pid"};
error_log {n.dir / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    {LOG_FORMAT}
    access_log {n.dir / "access.log"} t;
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    types {{ application/zip zip; text/html html; }}
    sendfile off;
{chr(10).join(servers)}
}}
"""


@contextmanager
def run(tmp: Path) -> Iterator[Nginx]:
    """Start nginx with its own config under `tmp`; stop it (by its pid) afterwards."""
    if NGINX is None:
        import pytest

        pytest.skip("nginx is not installed (.ci/run installs nginx-light)")
    d = tmp / "nginx"
    (d / "tmp").mkdir(parents=True)
    www = d / "www"
    www.mkdir()
    htpasswd = d / "htpasswd"
    htpasswd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    n = Nginx(d, www, _write_certs(d))
    last = ""
    for _attempt in range(5):  # a free port may be taken between our probe and nginx's bind
        n.ports = {name: _free_port() for name in ("http", "https", "https2", "wronghost", "expired", "tls10", "proxy")}
        (d / "nginx.conf").write_text(_config(n, htpasswd))
        n.proc = subprocess.Popen(
            [NGINX, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if _wait_listening(n):
            break
        n.stop()
        last = (d / "error.log").read_text(errors="replace") if (d / "error.log").exists() else ""
    else:
        raise RuntimeError("nginx did not start: " + last[-2000:])
    try:
        yield n
    finally:
        n.stop()


def _wait_listening(n: Nginx) -> bool:
    deadline = time.monotonic() + 10
    assert n.proc is not None
    while time.monotonic() < deadline:
        if n.proc.poll() is not None:
            return False
        try:
            for port in n.ports.values():
                socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


# ---------------------------------------------------------------- a connection that breaks once


@contextmanager
def cutting_forwarder(
    target_port: int, cut_after: int, on_cut: Callable[[], None] | None = None
) -> Iterator[tuple[int, list[int]]]:
    """A TCP forwarder to 127.0.0.1:`target_port` whose FIRST connection is cut after `cut_after` bytes of
    the server's answer (headers included); later connections pass through. Yields (port, bytes per
    connection). `on_cut` runs after the cut and before the client sees the connection close."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    counts: list[int] = []

    def pipe(src: socket.socket, dst: socket.socket, limit: int | None, index: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: limit - sent])
                    sent = limit
                    if on_cut is not None:
                        on_cut()
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            if index is not None:
                counts[index] = sent
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def accept() -> None:
        first = True
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            counts.append(0)
            limit = cut_after if first else None
            first = False
            threading.Thread(target=pipe, args=(client, upstream, None, None), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client, limit, len(counts) - 1), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield int(listener.getsockname()[1]), counts
    finally:
        stop.set()
        t.join(2)
        listener.close()
