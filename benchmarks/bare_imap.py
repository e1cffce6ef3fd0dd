"""The bare imaplib client `bench_inbox_imap.py` measures `inbox` against: the minimum an IMAP client must do
to find every PDF part of a folder. Run as a script, it is that client as its own process (as `inbox` is):

    BARE_IMAP_PASSWORD=… python benchmarks/bare_imap.py PORT CA_FILE USER
"""

from __future__ import annotations

import imaplib
import os
import re
import ssl
import sys
import time


def bare_client(port: int, ca: str, user: str, password: str) -> float:
    """EXAMINE, UID SEARCH, header + BODYSTRUCTURE fetches in batches, then the PDF parts; seconds taken."""
    t = time.perf_counter()
    ctx = ssl.create_default_context(cafile=ca)
    conn = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    conn.login(user, password)
    conn.select("INBOX", readonly=True)
    _typ, data = conn.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    pdf_uids: dict[str, list[bytes]] = {}
    for i in range(0, len(uids), 250):
        batch = b",".join(uids[i : i + 250]).decode()
        _typ, resp = conn.uid("FETCH", batch, "(UID BODYSTRUCTURE BODY.PEEK[HEADER])")
        for item in resp:
            meta = item[0] if isinstance(item, tuple) else item
            if isinstance(meta, bytes) and b'"PDF"' in meta.upper():
                m = re.search(rb"UID (\d+)", meta)
                if m:
                    pdf_uids.setdefault("2", []).append(m.group(1))
    for section, members in pdf_uids.items():
        for i in range(0, len(members), 250):
            conn.uid("FETCH", b",".join(members[i : i + 250]).decode(), f"(BODY.PEEK[{section}])")
    conn.logout()
    return time.perf_counter() - t


if __name__ == "__main__":
    bare_client(int(sys.argv[1]), sys.argv[2], sys.argv[3], os.environ["BARE_IMAP_PASSWORD"])
