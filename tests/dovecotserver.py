"""A real Dovecot on 127.0.0.1 for the desk tests: IMAPS with a throw-away CA, one shared mailbox, a `\\Sent` folder.

`start(condstore=False)` advertises a capability list without CONDSTORE (Dovecot's `imap_capability`), so the
client must fall back to its best-effort claim.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "regform", "s3cret-pw"


class Unavailable(Exception):
    """Dovecot is not installed or did not start: the caller skips with this message."""


@dataclass
class Dovecot:
    dir: Path
    maildir: Path
    port: int
    ca: str
    proc: subprocess.Popen[bytes]
    uid: int
    gid: int

    @property
    def url(self) -> str:
        return f"imaps://{USER}@127.0.0.1:{self.port}/INBOX"

    def deliver(self, name: str, data: bytes, folder: str = "") -> Path:
        """Put a message into new/ as a local delivery agent would (owned by the mail user)."""
        base = self.maildir / folder if folder else self.maildir
        for sub in ("new", "cur", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        tmp = base / "tmp" / name
        tmp.write_bytes(data)
        self.own()
        path = base / "new" / name
        os.rename(tmp, path)
        return path

    def own(self) -> None:
        for p in [self.maildir, *self.maildir.rglob("*")]:
            os.chown(p, self.uid, self.gid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(*, condstore: bool = True, user: str = USER, sessions: int | None = None) -> Dovecot:
    """A Dovecot on 127.0.0.1 (IMAPS); `sessions`: how many sessions one user may have open at once."""
    if not os.path.exists(DOVECOT):
        raise Unavailable("dovecot is not installed")
    try:
        import trustme
    except ImportError:
        raise Unavailable("trustme is not installed") from None
    try:
        mail_user = pwd.getpwnam("dovecot")
    except KeyError:
        raise Unavailable("no dovecot system user") from None
    # Dovecot refuses mail access as uid 0, and pytest's tmp dirs are private to root: a readable dir in /tmp.
    d = Path(tempfile.mkdtemp(prefix="supportctl-dovecot-"))
    d.chmod(0o755)
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    (d / "passwd").write_text(f"{user}:{{PLAIN}}{PASSWORD}::::::\n")
    maildir = d / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    port = _free_port()
    caps = (
        "" if condstore else "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NAMESPACE\n"
    )
    limit = f"protocol imap {{\n  mail_max_userip_connections = {sessions}\n}}\n" if sessions else ""
    (d / "dovecot.conf").write_text(
        f"""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.pem
first_valid_uid = 1
mail_location = maildir:{maildir}:LAYOUT=fs
{caps}{limit}namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={d}/home
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""
    )
    server = Dovecot(d, maildir, port, str(d / "ca.pem"), None, mail_user.pw_uid, mail_user.pw_gid)  # type: ignore[arg-type]
    server.own()
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(d / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server.proc = proc
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-300:] if proc.stderr else ""
                shutil.rmtree(d, ignore_errors=True)
                raise Unavailable("dovecot did not start: " + err) from None
            time.sleep(0.05)
    server.stop()
    raise Unavailable("dovecot did not start within 10 s")
