"""Mail as real mail programs build it, around real filled forms (`form.fill_pdf`).

Each builder follows the structure, headers and encodings that program writes (seen in their sent mail):
Thunderbird (multipart/mixed, format=flowed text, base64 PDF with `name` and `filename`), Outlook
(multipart/alternative text + HTML, `application/octet-stream`, RFC 2231 `filename*=` names, "WG:" forwards),
Apple Mail (inline disposition, `x-unix-mode`), forwarded `message/rfc822`, and uuencode in a text body as
older clients and scripts still send it.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

DESK = "RegForm@msdirectservices.com"
RECEIVED = "Wed, 25 Nov 2026 10:00:00 +0100"


@lru_cache(maxsize=8)
def form(**changes: object) -> bytes:
    from supportctl.form import pdfform
    from tests.formkit import GOOD, pkg

    return pdfform.fill_pdf(pkg(), {**GOOD, **changes})


def service_description() -> bytes:
    from tests.formkit import package_root

    return (package_root() / "service-description.pdf").read_bytes()


def _b64(data: bytes) -> str:
    return "\r\n".join(base64.encodebytes(data).decode("ascii").splitlines())


def _head(sender: str, subject: str, msgid: str, mailer: str, received: str | None = RECEIVED, to: str = DESK) -> str:
    lines = []
    if received:
        lines.append(f"Received: from client.example.org by mx.msdirectservices.com with ESMTPS; {received}")
    lines += [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Wed, 25 Nov 2026 09:58:00 +0100",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
        mailer,
    ]
    return "\r\n".join(lines) + "\r\n"


def thunderbird(
    pdfs: list[tuple[str, bytes]], msgid: str = "<tb@example.org>", subject: str = "Registrierung"
) -> bytes:
    b = "------------tb0123456789ABCDEF"
    sender = "=?UTF-8?Q?=C5=81ukasz_Wi=C5=9Bniewski?= <lukasz@example.com>"  # as Thunderbird encodes it
    body = _head(sender, subject, msgid, "User-Agent: Mozilla Thunderbird")
    body += f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\nThis is a multi-part message in MIME format.\r\n'
    body += (
        f"--{b}\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    body += "Guten Tag,\r\nanbei das Formular.\r\n\r\n"
    for name, data in pdfs:
        body += f'--{b}\r\nContent-Type: application/pdf; name="{name}"\r\n'
        body += f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        body += _b64(data) + "\r\n\r\n"
    return (body + f"--{b}--\r\n").encode("utf-8")


def outlook(name: str, data: bytes, msgid: str = "<ol@example.org>", subject: str = "WG: Registrierung") -> bytes:
    """Outlook: alternative text/HTML, the PDF as octet-stream, the name as RFC 2231 and RFC 2047."""
    from urllib.parse import quote

    mixed, alt = "_004_AM0PR01MB", "_000_AM0PR01MB"
    encoded = "=?utf-8?B?" + base64.b64encode(name.encode("utf-8")).decode("ascii") + "?="
    sender = "=?utf-8?Q?Dvo=C5=99=C3=A1k=2C_Anton=C3=ADn?= <antonin@example.com>"  # Outlook encodes names
    body = _head(sender, subject, msgid, "X-Mailer: Microsoft Outlook 16.0")
    body += f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n\r\n--{mixed}\r\n'
    body += f'Content-Type: multipart/alternative; boundary="{alt}"\r\n\r\n'
    body += f"--{alt}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    body += _b64(b"Hallo,\r\nanbei.\r\n") + "\r\n"
    body += f"--{alt}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    body += _b64(b"<html><body><p>Hallo,<br>anbei.</p></body></html>") + f"\r\n--{alt}--\r\n\r\n"
    body += f'--{mixed}\r\nContent-Type: application/octet-stream; name="{encoded}"\r\n'
    body += f"Content-Description: {encoded}\r\n"
    body += f"Content-Disposition: attachment; filename*=utf-8''{quote(name)}; size={len(data)}\r\n"
    body += "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(data) + f"\r\n\r\n--{mixed}--\r\n"
    return body.encode("ascii")


def _blob(label: str, size: int) -> str:
    """Base64 text of `size` characters, folded as Exchange folds its antispam data (the same every run)."""
    import hashlib

    raw = b"".join(hashlib.sha256(f"{label}{i}".encode()).digest() for i in range(size // 40 + 1))
    text = base64.b64encode(raw).decode("ascii")[:size]
    return "\r\n\t".join(text[i : i + 76] for i in range(0, len(text), 76))


def exchange_online(name: str, data: bytes, msgid: str = "<exo@example.org>") -> bytes:
    """Outlook's mail as Exchange Online delivers it after forwarding: about 26 KB of header, ARC sets of three
    hops, DKIM and older Received lines before From, the antispam reports and their base64 message data after
    it, and the Content-Type only behind them (24 KB into the header)."""
    first, _sep, rest = outlook(name, data, msgid).partition(b"\r\n")
    head, _sep, body = rest.partition(b"Content-Type: multipart/mixed")
    hops = []
    for i in (3, 2, 1):
        hops += [
            f"ARC-Seal: i={i}; a=rsa-sha256; s=arcselector9901; d=microsoft.com; cv=pass;\r\n"
            f"\tb={_blob(f'seal{i}', 600)}",
            f"ARC-Message-Signature: i={i}; a=rsa-sha256; c=relaxed/relaxed; d=microsoft.com; s=arcselector9901;\r\n"
            f"\th=From:Date:Subject:Message-ID:Content-Type:MIME-Version;\r\n\tbh={_blob(f'bh{i}', 44)};\r\n"
            f"\tb={_blob(f'ams{i}', 600)}",
            f"ARC-Authentication-Results: i={i}; mx.microsoft.com 1; spf=pass smtp.mailfrom=example.com;\r\n"
            "\tdmarc=pass action=none header.from=example.com; dkim=pass header.d=example.com; arc=none",
            f"Received: from AM0PR01MB{i:04d}.eurprd01.prod.exchangelabs.com (2603:10a6:208:{i}::1) by\r\n"
            f"\tAM0PR01MB{i + 1:04d}.eurprd01.prod.exchangelabs.com with HTTPS; Wed, 25 Nov 2026 08:5{i}:00 +0000",
        ]
    hops.append(
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=selector1;\r\n\tb={_blob('dkim', 400)}"
    )
    blobs = [
        f"x-microsoft-antispam-message-info:\r\n\t{_blob('info', 7000)}",
        f"x-forefront-antispam-report: CIP:255.255.255.255;CTRY:;LANG:de;SCL:1;SRV:;IPV:NLI;SFV:NSPM;\r\n"
        f"\t{_blob('ffr', 900)}",
        "x-ms-exchange-antispam-messagedata-chunkcount: 1",
        f"x-ms-exchange-antispam-messagedata-0:\r\n\t{_blob('data', 9000)}",
        "X-MS-Exchange-CrossTenant-Network-Message-Id: 0d8b0f1e-5b7a-4c1e-9c9d-2f4d7e0a1b2c",
        "X-MS-Exchange-CrossTenant-originalarrivaltime: 25 Nov 2026 08:58:00.0000 (UTC)",
        "X-OriginatorOrg: example.com",
    ]
    top = first + b"\r\n" + "\r\n".join(hops).encode("ascii") + b"\r\n"
    return top + head + "\r\n".join(blobs).encode("ascii") + b"\r\nContent-Type: multipart/mixed" + body


def apple_mail(name: str, data: bytes, msgid: str = "<am@example.org>") -> bytes:
    b = "Apple-Mail=_6C1F2B7E-1D2C-4E8A-9A7B-3C2D1E0F9A8B"
    sender = "=?utf-8?Q?Zo=C3=AB_Bront=C3=AB?= <zoe@example.com>"
    body = _head(sender, "Registration", msgid, "X-Mailer: Apple Mail (2.3774.200.91.1.1)")
    body += f'Content-Type: multipart/mixed;\r\n\tboundary="{b}"\r\n\r\n'
    body += (
        f"--{b}\r\nContent-Transfer-Encoding: 7bit\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\nHi\r\n\r\n"
    )
    body += f'--{b}\r\nContent-Disposition: inline;\r\n\tfilename="{name}"\r\n'
    body += f'Content-Type: application/pdf;\r\n\tx-unix-mode=0644;\r\n\tname="{name}"\r\n'
    body += "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(data) + f"\r\n--{b}--\r\n"
    return body.encode("utf-8")


def forwarded(inner: bytes, msgid: str = "<fwd@example.org>") -> bytes:
    b = "fwd-boundary"
    body = _head("Desk Colleague <colleague@msdirectservices.com>", "Fwd: Registrierung", msgid, "User-Agent: Mutt")
    body += (
        f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nsee below\r\n'
    )
    body += f"--{b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
    return body.encode() + inner + f"\r\n--{b}--\r\n".encode()


def postfix_bounce(inner: bytes, msgid: str = "<20261125090000.C0E9416411E@mx.example.org>") -> bytes:
    """Postfix's bounce of a registration the desk sent on (as written into the desk's mailbox by virtual(8)).

    `bounce_size_limit` large enough: the whole returned message, its PDF too, is the last part."""
    b = "BD16D1640D9.1764061200/mx.example.org"
    head = (
        "Return-Path: <>\r\nX-Original-To: regform@msdirectservices.com\r\n"
        "Delivered-To: regform@msdirectservices.com\r\n"
        "Received: by mx.example.org (Postfix)\r\n\tid C0E9416411E; Wed, 25 Nov 2026 09:00:00 +0000 (UTC)\r\n"
        "Date: Wed, 25 Nov 2026 09:00:00 +0000 (UTC)\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nTo: regform@msdirectservices.com\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{b}"\r\n'
        f"Content-Transfer-Encoding: 8bit\r\nMessage-Id: {msgid}\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
        f"--{b}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n"
        "<gone@nowhere.example.net> (expanded from <colleague@msdirectservices.com>): no\r\n    outside mail\r\n\r\n"
        f"--{b}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\nX-Postfix-Queue-ID: BD16D1640D9\r\n\r\n"
        "Final-Recipient: rfc822; gone@nowhere.example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n"
        "Diagnostic-Code: X-Postfix; no outside mail\r\n\r\n"
        f"--{b}\r\nContent-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + inner + f"\r\n--{b}--\r\n".encode()


def postfix_delay(inner: bytes, to: str = "alice@example.org") -> bytes:
    """Postfix's delay warning (`delay_warning_time`): the submission is still being retried, not returned.

    Only the returned message's headers come back (`text/rfc822-headers`)."""
    b = "4F1A2B3C4D.1764061200/mail.example.org"
    headers = inner.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    head = (
        "Return-Path: <>\r\nDate: Wed, 25 Nov 2026 13:00:00 +0000 (UTC)\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n"
        f"Subject: Delayed Mail (still being retried)\r\nTo: {to}\r\nAuto-Submitted: auto-replied\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{b}"\r\n'
        "Message-Id: <20261125130000.4F1A2B3C4D@mail.example.org>\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
        f"--{b}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mail.example.org.\r\n\r\n####################################\r\n"
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n\r\n"
        f"--{b}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mail.example.org\r\nX-Postfix-Queue-ID: 4F1A2B3C4D\r\n\r\n"
        "Final-Recipient: rfc822; regform@msdirectservices.com\r\n"
        "Original-Recipient: rfc822;RegForm@msdirectservices.com\r\n"
        "Action: delayed\r\nStatus: 4.4.1\r\n"
        "Diagnostic-Code: X-Postfix; connect to mx.msdirectservices.com[192.0.2.25]:25: Connection timed out\r\n"
        "Will-Retry-Until: Sun, 29 Nov 2026 09:00:00 +0000 (UTC)\r\n\r\n"
        f"--{b}\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    )
    return head.encode() + headers + f"\r\n\r\n--{b}--\r\n".encode()


def exchange_ndr(inner: bytes, to: str = "alice@example.org") -> bytes:
    """Exchange Online's non-delivery report: a text and an HTML explanation, the delivery status, and the
    returned message's headers (`text/rfc822-headers`), as Outlook shows "Undeliverable: …"."""
    b, alt = "_000_PAXPR01MB8722E1A4C0D3B2F1A9B8C7D6PAXPR01MB8722eurp_", "_002_alt_"
    headers = inner.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    why = "Recipient regform@msdirectservices.com not found by SMTP address lookup"
    head = (
        "From: Microsoft Outlook\r\n <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.onmicrosoft.com>\r\n"
        f"To: <{to}>\r\nDate: Wed, 25 Nov 2026 09:00:05 +0000\r\n"
        "Subject: =?utf-8?Q?Unzustellbar:_Registrierung?=\r\n"
        f'Content-Type: multipart/report; report-type="delivery-status";\r\n\tboundary="{b}"\r\n'
        "Content-Language: de-DE\r\nMessage-ID:\r\n"
        " <7c1f9d3e-5b2a-4c8e-9f0d-1a2b3c4d5e6f@PAXPR01MB8722.eurprd01.prod.exchangelabs.com>\r\n"
        "MIME-Version: 1.0\r\nX-MS-Exchange-Message-Is-Ndr:\r\n\r\n"
        f'--{b}\r\nContent-Type: multipart/alternative; boundary="{alt}"\r\n\r\n'
        f"--{alt}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64(b"Ihre Nachricht hat regform@msdirectservices.com nicht erreicht.\r\n")
        + f"\r\n--{alt}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>nicht erreicht</body></html>\r\n"
        f"--{alt}--\r\n\r\n"
        f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns;PAXPR01MB8722.eurprd01.prod.exchangelabs.com\r\n"
        "Received-From-MTA: dns;mail.example.org\r\nArrival-Date: Wed, 25 Nov 2026 09:00:04 +0000\r\n\r\n"
        "Original-Recipient: rfc822;RegForm@msdirectservices.com\r\n"
        "Final-Recipient: rfc822;RegForm@msdirectservices.com\r\nAction: failed\r\nStatus: 5.1.10\r\n"
        f"Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound;\r\n {why}\r\n\r\n"
        f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    )
    return head.encode() + headers + f"\r\n\r\n--{b}--\r\n".encode()


def x_pdf_without_name(data: bytes, msgid: str = "<xpdf@example.org>") -> bytes:
    b = "xb"
    body = _head("script <ops@example.com>", "form", msgid, "X-Mailer: a shell script")
    body += f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nform\r\n'
    body += f"--{b}\r\nContent-Type: application/x-pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    return (body + _b64(data) + f"\r\n--{b}--\r\n").encode()


def uuencoded(name: str, data: bytes, msgid: str = "<uu@example.org>") -> bytes:
    lines = [binascii.b2a_uu(data[i : i + 45]).decode("ascii").rstrip("\n") for i in range(0, len(data), 45)]
    text = "Hello, the form:\r\n\r\nbegin 644 " + name + "\r\n" + "\r\n".join(lines) + "\r\n`\r\nend\r\n"
    body = _head("old client <old@example.com>", "Registrierung", msgid, "X-Mailer: Pegasus Mail")
    return (body + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text).encode("ascii")


def plain(
    subject: str, msgid: str, *, to: str = DESK, date: str | None = None, received: str | None = RECEIVED
) -> bytes:
    body = _head("someone <someone@example.com>", subject, msgid, "X-Mailer: x", received=received, to=to)
    if date is not None:
        body = body.replace("Date: Wed, 25 Nov 2026 09:58:00 +0100", f"Date: {date}")
    return (body + "Content-Type: text/plain\r\n\r\nno attachment\r\n").encode()


def corpus() -> dict[str, bytes]:
    """Mail as the programs build it, around real forms; the expected records are in the tests."""
    good = form()
    standard = form(support="standard", membership_id="STD-777-XYZ", first_name="Zoë")
    rfc2047 = "=?UTF-8?B?" + base64.b64encode("Anmeldung Dvořák.pdf".encode()).decode() + "?="
    return {
        "thunderbird": thunderbird([("registration-form-filled.pdf", good)], "<tb1@example.org>"),
        "description-first": thunderbird(
            [("service-description.pdf", service_description()), ("registration-form-filled.pdf", good)],
            "<tb2@example.org>",
        ),
        "two-forms": thunderbird([("a.pdf", good), ("b.pdf", standard)], "<tb3@example.org>"),
        "outlook": outlook("Registrierung Łukasz.pdf", good, "<ol1@example.org>"),
        "apple": apple_mail("Registration.pdf", good, "<am1@example.org>"),
        "exchange-online": exchange_online("Registrierung.pdf", good, "<exo1@example.org>"),
        "forwarded": forwarded(thunderbird([("form.pdf", good)], "<inner@example.org>"), "<fw1@example.org>"),
        "x-pdf": x_pdf_without_name(good, "<xp1@example.org>"),
        "uuencode": uuencoded("form.pdf", good, "<uu1@example.org>"),
        "rfc2047": thunderbird([(rfc2047, good)], "<enc@example.org>"),
        "no-form": plain("Registrierung", "<nf@example.org>"),
        "only-description": thunderbird([("sd.pdf", service_description())], "<sd@example.org>"),
        "elsewhere": plain("Newsletter", "<nl@example.org>", to="team@example.com"),
        "date-9999": plain("hi", "<d9@example.org>", date="Fri, 31 Dec 9999 23:59:59 +0000", received=None),
        "received-9999": thunderbird([("f.pdf", good)], "<r9@example.org>").replace(
            b"ESMTPS; " + RECEIVED.encode(), b"ESMTPS; Fri, 31 Dec 9999 23:59:59 +0000"
        ),
    }
