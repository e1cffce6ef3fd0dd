"""`status --mailbox`: the desk's replies as people and mail programs really write them.

Each reply is built the way its program builds it (the house style of tests/realmail.py): Thunderbird's
format=flowed text with the original quoted below, Outlook's HTML (alone, or multipart/related with an inline
image) with the original under a "Von:/Gesendet:" block, Apple Mail's quoted-printable, Gmail's
multipart/alternative, Exchange's auto-replies, read receipts (RFC 8098). The replies are put into a real
Maildir and read by the same scan `status` uses.
"""

from __future__ import annotations

import base64
import quopri
from datetime import datetime, timezone
from pathlib import Path

import pytest

from supportctl.desk import sources
from supportctl.mail import replies
from supportctl.package import manifest as package

PKG = package.load(package.bundled_root())
DESK = "RegForm@msdirectservices.com"
APPLICANT = "alice@example.org"
SUB_ID = "20261125-090000-aaaaaaaa"
SUB_MSGID = "<176406120000.1234.5678@supportctl.example.org>"
MEMBERSHIP = "ABC-123-XYZ"
SUB_SUBJECT = f"Support registration / Supportregistrierung: MSDN {MEMBERSHIP} - Müller GmbH"
ACCEPTED = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
CONTRACT = "V-2026-0042"


def _wanted(**changes: object) -> list[replies.Wanted]:
    base = {"id": SUB_ID, "message_id": SUB_MSGID, "membership_id": MEMBERSHIP, "submitted_at": ACCEPTED}
    base.update(changes)
    return [replies.Wanted(**base)]  # type: ignore[arg-type]


def _scan(tmp_path: Path, *messages: bytes, wanted: list[replies.Wanted] | None = None) -> list[replies.Outcome]:
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(messages):
        (box / "new" / f"17640612{i:02d}.M{i}P1.host").write_bytes(data)
    src = sources.open_local(str(box), 1 << 22)
    return replies.scan(src, wanted or _wanted(), replies.Matcher(PKG.process))


def _only(outcomes: list[replies.Outcome]) -> replies.Outcome:
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def _head(
    *,
    sender: str = f"Registrierung <{DESK}>",
    subject: str = f"AW: {SUB_SUBJECT}",
    msgid: str = "<reply-1@msdirectservices.com>",
    date: str = "Wed, 25 Nov 2026 11:00:00 +0100",
    in_reply_to: str | None = SUB_MSGID,
    references: str | None = SUB_MSGID,
    extra: str = "",
) -> str:
    lines = [
        f"Received: from mx.msdirectservices.com by mx.example.org with ESMTPS; {date}",
        f"From: {sender}",
        f"To: =?utf-8?q?Alice_M=C3=BCller?= <{APPLICANT}>",
        f"Subject: {_encoded(subject)}",
        f"Date: {date}",
        f"Message-ID: {msgid}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    lines.append("MIME-Version: 1.0")
    return "\r\n".join(lines) + "\r\n" + extra


def _encoded(text: str) -> str:
    """A header's text as mail programs send it: RFC 2047 encoded words where it is not ASCII."""
    from email.header import Header

    return text if text.isascii() else Header(text, "utf-8").encode()


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


QUOTED_SUMMARY = (
    "Am 25.11.2026 um 10:00 schrieb Alice Müller:\n"
    "> Guten Tag,\n>\n> anbei das ausgefüllte Registrierungsformular für den Supportvertrag.\n>\n"
    f">    Mitglieds- bzw. Abonnement-ID: {MEMBERSHIP}\n"
)


def thunderbird(text: str, **head: object) -> bytes:
    """Thunderbird: text/plain; format=flowed, 8bit UTF-8, the original quoted with "> " below."""
    h = _head(**head, extra="User-Agent: Mozilla Thunderbird\r\n")  # type: ignore[arg-type]
    h += "Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    return (h + _crlf(text)).encode("utf-8")


# ---------------------------------------------------------------- quoted text is not what the reply says


def test_a_number_quoted_from_the_applicant_is_not_the_desks_contract_number(tmp_path: Path) -> None:
    """Thunderbird quotes the mail it answers with "> ". The desk asks a question; the only number is in the
    applicant's quoted follow-up: that is no contract number arriving."""
    text = (
        "Guten Tag Frau Müller,\n\nwelche Firma sollen wir eintragen? Im Formular steht eine andere als in \n"
        "Ihrer Mail.\n\nMit freundlichen Grüßen\nJ. Schmidt\n\n"
        "Am 25.11.2026 um 10:00 schrieb Alice Müller:\n"
        "> Hallo,\n> unser bisheriger Vertrag ist abgelaufen.\n> Contract number: SC-4711\n"
    )
    assert _scan(tmp_path, thunderbird(text)) == []


def _b64(data: bytes) -> str:
    return "\r\n".join(base64.encodebytes(data).decode("ascii").splitlines())


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

OUTLOOK_CSS = (
    '<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">'
    "<!--[if !mso]><style>v\\:* {behavior:url(#default#VML);}</style><![endif]-->"
    "<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt;} --></style></head>"
)


def outlook_html(paragraphs: list[str], original: list[str], *, image: bool) -> str:
    """Outlook's HTML: MsoNormal paragraphs, a signature image, the original under a "Von:/Gesendet:" block."""
    body = "".join(f'<p class="MsoNormal">{p}<o:p></o:p></p>' for p in paragraphs)
    if image:
        body += (
            '<p class="MsoNormal"><img width="120" height="40" id="Bild_x0020_1" '
            'src="cid:image001.png@01DB3F2A.5E1B2C30"></p>'
        )
    body += (
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        f'<p class="MsoNormal"><b>Von:</b> Alice Müller &lt;{APPLICANT}&gt; <br><b>Gesendet:</b> Mittwoch, 25. '
        f"November 2026 10:00<br><b>An:</b> {DESK}<br><b>Betreff:</b> {SUB_SUBJECT}<o:p></o:p></p></div>"
    )
    body += "".join(f'<p class="MsoNormal">{line}<o:p></o:p></p>' for line in original)
    return (
        '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">'
        f'{OUTLOOK_CSS}<body lang="DE" link="#0563C1"><div class="WordSection1">{body}</div></body></html>'
    )


def outlook(
    paragraphs: list[str], original: list[str] = (), *, html_only: bool = False, image: bool = False, **head: object
) -> bytes:
    """Outlook 16: multipart/alternative (text, HTML) or HTML alone, inside multipart/related when the HTML shows
    an inline image; quoted-printable; "AW:"; Thread-Index; the original under "Von: … Gesendet: …"."""
    html = outlook_html(paragraphs, list(original), image=image)
    text = "\r\n\r\n".join(paragraphs) + "\r\n\r\n"
    text += f"Von: Alice Müller <{APPLICANT}>\r\nGesendet: Mittwoch, 25. November 2026 10:00\r\nAn: {DESK}\r\n"
    text += f"Betreff: {SUB_SUBJECT}\r\n\r\n" + "\r\n".join(original) + "\r\n"
    import html as htmllib
    import re

    text = htmllib.unescape(re.sub(r"<[^>]+>", "", text))

    def qp(s: str) -> str:
        return quopri.encodestring(s.encode("utf-8")).decode("ascii")

    h = _head(**head, extra="Thread-Index: AQHbPyplm2XhYk0SkU6oT0dVmFq4Ig==\r\nX-MS-Has-Attach: yes\r\n")  # type: ignore[arg-type]
    alt, rel = "_000_AM9PR01MB7124A0E1B2C3D4E5AM9PR01MB7124eurp_", "_004_AM9PR01MB7124A0E1B2C3D4E5AM9PR01MB7124eurp_"
    html_part = 'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    html_part += qp(html) + "\r\n"
    if html_only:
        inner = html_part
        inner_type = "text/html"
    else:
        inner = (
            f'Content-Type: multipart/alternative;\r\n\tboundary="{alt}"\r\n\r\n'
            f'--{alt}\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
            f"\r\n\r\n{qp(text)}\r\n--{alt}\r\n{html_part}\r\n--{alt}--\r\n"
        )
        inner_type = "multipart/alternative"
    if image:
        body = (
            f'Content-Type: multipart/related;\r\n\tboundary="{rel}";\r\n\ttype="{inner_type}"\r\n\r\n'
            f"--{rel}\r\n{inner}\r\n--{rel}\r\n"
            'Content-Type: image/png; name="image001.png"\r\nContent-Description: image001.png\r\n'
            'Content-Disposition: inline; filename="image001.png"; size=68\r\n'
            "Content-ID: <image001.png@01DB3F2A.5E1B2C30>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{_b64(PNG)}\r\n\r\n--{rel}--\r\n"
        )
    else:
        body = inner
    return (h + body).encode("ascii")


@pytest.mark.parametrize("html_only", [False, True])
@pytest.mark.parametrize("image", [False, True])
def test_outlook_reply_gives_its_number(tmp_path: Path, html_only: bool, image: bool) -> None:
    mail = outlook(
        ["Sehr geehrte Frau Müller,", f"Ihre Vertragsnummer lautet: <b>{CONTRACT}</b>", "Mit freundlichen Grüßen"],
        ["Guten Tag,", "anbei das ausgefüllte Registrierungsformular für den Supportvertrag."],
        html_only=html_only,
        image=image,
    )
    found = _only(_scan(tmp_path, mail))
    assert (found.kind, found.contract, found.submission) == ("contract", CONTRACT, SUB_ID)


@pytest.mark.parametrize("html_only", [False, True])
def test_outlook_question_with_a_number_in_the_original_below_is_no_contract(tmp_path: Path, html_only: bool) -> None:
    """Outlook does not prefix the original with ">": it puts it under a "Von: … Gesendet: …" block."""
    mail = outlook(
        ["Sehr geehrte Frau Müller,", "ist Ihr bisheriger Vertrag noch aktiv?", "Mit freundlichen Grüßen"],
        ["Guten Tag,", "wir hatten schon einen Vertrag.", "Vertragsnummer: SC-4711"],
        html_only=html_only,
    )
    assert _scan(tmp_path, mail) == []


def apple_mail(text: str, **head: object) -> bytes:
    """Apple Mail: text/plain quoted-printable (soft line breaks at 76 columns, also inside a word)."""
    h = _head(**head, extra="X-Mailer: Apple Mail (2.3774.200.91.1.1)\r\n")  # type: ignore[arg-type]
    h += "Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain;\r\n\tcharset=utf-8\r\n\r\n"
    return (h + quopri.encodestring(_crlf(text).encode("utf-8")).decode("ascii")).encode("ascii")


def test_apple_mail_quoted_printable_with_a_soft_break_inside_the_number(tmp_path: Path) -> None:
    line = "Sehr geehrte Frau Müller, vielen Dank. Ihre Vertragsnummer lautet V-2026-0042."
    mail = apple_mail(line + "\n\n" + QUOTED_SUMMARY)
    raw = mail.decode("ascii")
    assert "V-2026-=\r\n0042" in raw or "V-202=\r\n6-0042" in raw or "=\r\n" in raw.split("lautet", 1)[1][:20]
    assert _only(_scan(tmp_path, mail)).contract == CONTRACT


def test_a_reply_naming_the_submission_only_in_references(tmp_path: Path) -> None:
    mail = thunderbird(f"Vertragsnummer: {CONTRACT}\n", in_reply_to=None, references=f"<other@example.org> {SUB_MSGID}")
    assert _only(_scan(tmp_path, mail)).submission == SUB_ID


def test_an_encoded_word_subject_with_umlauts_of_a_hand_written_reply(tmp_path: Path) -> None:
    subject = "=?utf-8?q?AW=3A_Supportregistrierung_ABC-123-XYZ_-_M=C3=BCller_GmbH=2C_?=\r\n =?utf-8?q?G=C3=B6ttingen?="
    mail = thunderbird(f"Vertragsnummer: {CONTRACT}\n", subject=subject, in_reply_to=None, references=None)
    found = _only(_scan(tmp_path, mail))
    assert found.contract == CONTRACT
    assert found.subject == f"AW: Supportregistrierung {MEMBERSHIP} - Müller GmbH, Göttingen"


def test_an_encoded_word_reject_subject_is_a_rejection(tmp_path: Path) -> None:
    subject = "=?iso-8859-1?q?Ihre_Registrierung_konnte_nicht_bearbeitet_werden?="
    text = "Guten Tag,\n\nfolgende Angaben fehlen:\n\n  - Feld Straße: fehlt\n  - Feld Ort: ungültig\n"
    found = _only(_scan(tmp_path, thunderbird(text, subject=subject)))
    assert found.kind == "rejected" and found.reasons == ("Feld Straße: fehlt", "Feld Ort: ungültig")


def test_a_windows_1252_rejection_keeps_its_umlauts(tmp_path: Path) -> None:
    text = "Guten Tag,\r\n\r\n  - Feld Straße: fehlt\r\n  - Feld Firma: \u201eMüller\u201c ist ungültig\r\n"
    h = _head(subject="Ihre Registrierung konnte nicht bearbeitet werden", in_reply_to=SUB_MSGID)
    h += 'Content-Type: text/plain; charset="windows-1252"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    found = _only(_scan(tmp_path, h.encode("ascii") + quopri.encodestring(text.encode("cp1252"))))
    assert found.reasons == ("Feld Straße: fehlt", "Feld Firma: \u201eMüller\u201c ist ungültig")


def gmail(text: str, html: str, **head: object) -> bytes:
    """Gmail: multipart/alternative, text with "> " quotes, HTML with the quote in a gmail_quote blockquote."""
    b = "000000000000a1b2c3d4e5f60718"
    h = _head(**head)  # type: ignore[arg-type]
    h += f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
    h += f'--{b}\r\nContent-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    h += quopri.encodestring(_crlf(text).encode("utf-8")).decode("ascii") + "\r\n"
    h += f'--{b}\r\nContent-Type: text/html; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    h += quopri.encodestring(html.encode("utf-8")).decode("ascii") + f"\r\n--{b}--\r\n"
    return h.encode("ascii")


def thunderbird_html(html_body: str, **head: object) -> bytes:
    """Thunderbird composing HTML for a recipient who prefers it: text/html alone, the quote a <blockquote>."""
    h = _head(**head, extra="User-Agent: Mozilla Thunderbird\r\n")  # type: ignore[arg-type]
    h += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    html = (
        '<!DOCTYPE html>\r\n<html><head><meta http-equiv="content-type" content="text/html; charset=UTF-8">'
        f"</head><body>{html_body}</body></html>"
    )
    return (h + _crlf(html)).encode("utf-8")


def test_gmail_question_quoting_a_number_is_no_contract_and_its_answer_is(tmp_path: Path) -> None:
    quote = "> Wir hatten schon einen Vertrag.\n> Vertragsnummer: SC-4711\n"
    html_quote = (
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">Am Mi., 25. Nov. 2026 um 10:00 Uhr schrieb '
        f'Alice Müller &lt;<a href="mailto:{APPLICANT}">{APPLICANT}</a>&gt;:<br></div><blockquote class="gmail_quote" '
        'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Wir hatten schon '
        "einen Vertrag.<br>Vertragsnummer: SC-4711</blockquote></div>"
    )
    question = gmail(
        "Ist der alte Vertrag noch aktiv?\n\nAm Mi., 25. Nov. 2026 um 10:00 Uhr schrieb Alice Müller:\n" + quote,
        f'<div dir="ltr">Ist der alte Vertrag noch aktiv?</div><br>{html_quote}',
    )
    assert _scan(tmp_path / "q", question) == []
    answer = gmail(
        f"Ihre Vertragsnummer lautet {CONTRACT}.\n\n" + quote,
        f'<div dir="ltr">Ihre Vertragsnummer lautet {CONTRACT}.</div><br>{html_quote}',
        msgid="<reply-2@msdirectservices.com>",
    )
    assert _only(_scan(tmp_path / "a", answer)).contract == CONTRACT


def test_thunderbird_html_only_quote_is_not_the_reply(tmp_path: Path) -> None:
    quoted = (
        '<div class="moz-cite-prefix">Am 25.11.26 um 10:00 schrieb Alice Müller:<br></div>'
        '<blockquote type="cite" cite="mid:x@example.org">Contract number: SC-4711<br></blockquote>'
    )
    assert _scan(tmp_path / "q", thunderbird_html(f"<p>Welche Firma?</p>{quoted}")) == []
    found = _only(_scan(tmp_path / "a", thunderbird_html(f"<p>Vertragsnummer: <b>{CONTRACT}</b></p>{quoted}")))
    assert found.contract == CONTRACT


def test_a_rejection_by_outlook_lists_only_its_own_reasons(tmp_path: Path) -> None:
    """The reasons of a rejection written in Outlook are its "- …" lines, never lines of the original below."""
    mail = outlook(
        ["Guten Tag,", "&nbsp;&nbsp;- Feld Straße: fehlt", "Grüße"],
        ["&nbsp;&nbsp;- bitte schnell bearbeiten"],
        subject="Ihre Registrierung konnte nicht bearbeitet werden",
    )
    found = _only(_scan(tmp_path, mail))
    assert found.kind == "rejected" and found.reasons == ("Feld Straße: fehlt",)


def test_a_forward_by_the_desk_keeps_the_forwarded_text(tmp_path: Path) -> None:
    """A desk member forwarding the contracts team's mail (Outlook, "WG:"): the number is in what is forwarded."""
    mail = outlook(
        ["Guten Tag Frau Müller, anbei die Nachricht unserer Vertragsabteilung."],
        ["Die Vertragsnummer für Frau Müller:", f"Vertragsnummer: {CONTRACT}"],
        subject=f"WG: {SUB_SUBJECT}",
    )
    assert _only(_scan(tmp_path, mail)).contract == CONTRACT


def test_a_table_in_html_gives_the_number_from_its_cell(tmp_path: Path) -> None:
    """A ticket system's HTML lays label and number out in two cells of a row."""
    html = (
        "<html><body><p>Guten Tag,</p><table><tr><td>Vertragsnummer</td><td>V-2026-0042</td></tr>"
        "<tr><td>Support</td><td>Geschäftskritischer Telefonsupport</td></tr></table></body></html>"
    )
    h = _head(subject="[Ticket#2026112510000123] Ihre Registrierung", extra="X-Mailer: OTRS\r\n")
    h += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    found = _only(_scan(tmp_path, (h + html).encode("utf-8")))
    assert found.contract == CONTRACT


@pytest.mark.parametrize(
    "sentence",
    [
        "Ihre Vertragsnr. lautet V-2026-0042.",
        "Ihre Vertrags-Nr.: V-2026-0042",
        "Vertrags-Nummer: V-2026-0042",
        "VERTRAGSNUMMER: V-2026-0042",
        "Ihre neue Vertragsnummer lautet\u00a0V-2026-0042.",
        "Ihre Vertragsnummer ist: V-2026-0042",
        "Contract No: V-2026-0042",
        "Your contract number: V-2026-0042",
    ],
)
def test_german_and_english_spellings_of_the_label(tmp_path: Path, sentence: str) -> None:
    mail = thunderbird(f"Guten Tag,\n\n{sentence}\n\nGrüße\n")
    assert _only(_scan(tmp_path, mail)).contract == CONTRACT


def test_the_number_only_in_a_subject_written_by_hand(tmp_path: Path) -> None:
    mail = thunderbird(
        "Guten Tag,\n\nsiehe Betreff. Alles Gute!\n\n" + QUOTED_SUMMARY,
        subject=f"AW: {SUB_SUBJECT} - Vertragsnummer {CONTRACT}",
    )
    assert _only(_scan(tmp_path, mail)).contract == CONTRACT


@pytest.mark.parametrize(
    "text",
    [
        "Ihre bisherige Vertragsnummer SC-4711 wird ersetzt. Ihre neue Vertragsnummer lautet V-2026-0042.",
        "Your old contract number SC-4711 is no longer valid; your new contract number is V-2026-0042.",
        "Statt der alten Vertragsnummer SC-4711 gilt ab sofort: Vertragsnummer: V-2026-0042",
    ],
)
def test_an_old_number_cited_and_a_new_one_given_gives_the_new_one(tmp_path: Path, text: str) -> None:
    assert _only(_scan(tmp_path, thunderbird(f"Guten Tag,\n\n{text}\n"))).contract == CONTRACT
    assert _scan(tmp_path / "only-old", thunderbird("Ihre alte Vertragsnummer SC-4711 ist abgelaufen.\n")) == []


def test_a_new_mail_from_a_desk_members_own_address(tmp_path: Path) -> None:
    """Not a reply (no In-Reply-To): a desk member writes from their own address, the membership ID in the subject."""
    mail = thunderbird(
        f"Guten Tag Frau Müller,\n\nIhre Vertragsnummer lautet {CONTRACT}.\n",
        sender="Jana Schmidt <j.schmidt@msdirectservices.com>",
        subject=f"Ihre Registrierung {MEMBERSHIP}",
        in_reply_to=None,
        references=None,
    )
    assert _only(_scan(tmp_path, mail)).contract == CONTRACT
    # The same mail from an address of another domain: not the desk.
    stranger = mail.replace(b"j.schmidt@msdirectservices.com", b"j.schmidt@msdirectservices.com.example.net")
    assert _scan(tmp_path / "stranger", stranger) == []


@pytest.mark.parametrize("charset", ["windows-1252", "cp1252", "unknown-8bit", "x-unknown"])
def test_a_windows_1252_body(tmp_path: Path, charset: str) -> None:
    text = "Sehr geehrte Frau Müller,\r\n\r\nIhre Vertragsnummer lautet \u2013 wie besprochen \u2013 unten:\r\n"
    text += f"Vertragsnummer: {CONTRACT}\r\nKosten: 100 \u20ac\r\n"
    h = _head(extra="X-Mailer: Microsoft Outlook Express 6.00.2900.5931\r\n")
    h += f'Content-Type: text/plain;\r\n\tcharset="{charset}"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    found = _only(_scan(tmp_path, h.encode("ascii") + text.encode("cp1252")))
    assert found.contract == CONTRACT


def test_a_rejection_in_8bit_without_a_charset_keeps_its_umlauts(tmp_path: Path) -> None:
    """A script or an old mail program sending UTF-8 text without saying so (no charset: US-ASCII by the RFC)."""
    text = "Guten Tag,\r\n\r\n  - Feld Straße: fehlt\r\n  - Feld Gewünschter Support: ungültig\r\n"
    h = _head(subject="Ihre Registrierung konnte nicht bearbeitet werden", extra="X-Mailer: PHPMailer 5.2\r\n")
    h += "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    found = _only(_scan(tmp_path, h.encode("ascii") + text.encode("utf-8")))
    assert found.reasons == ("Feld Straße: fehlt", "Feld Gewünschter Support: ungültig")


def test_windows_1252_text_labelled_utf_8_keeps_its_umlauts(tmp_path: Path) -> None:
    """A web mailer labelling Windows-1252 text as UTF-8: the text is read as what it is, not as "?"s."""
    text = "Guten Tag,\r\n\r\n  - Feld Straße: fehlt\r\n"
    h = _head(subject="Ihre Registrierung konnte nicht bearbeitet werden")
    h += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    found = _only(_scan(tmp_path, h.encode("ascii") + text.encode("cp1252")))
    assert found.reasons == ("Feld Straße: fehlt",)


def test_the_later_of_two_replies_wins_whatever_their_zones(tmp_path: Path) -> None:
    """The template's number from a server in +0100, then a correction from a desk member's mail in UTC a
    quarter of an hour later: the correction is the answer (the zones' texts sort the other way round)."""
    first = thunderbird(f"Vertragsnummer: {CONTRACT}\n", date="Wed, 25 Nov 2026 11:30:00 +0100")
    fix = thunderbird(
        "Korrektur: Ihre Vertragsnummer lautet V-2026-0043.\n",
        date="Wed, 25 Nov 2026 10:45:00 +0000",
        msgid="<reply-2@msdirectservices.com>",
    )
    for i, order in enumerate(((first, fix), (fix, first))):
        found = _only(_scan(tmp_path / f"order{i}", *order))
        assert found.contract == "V-2026-0043"


def test_a_contract_given_in_reply_to_the_applicants_answer_to_a_rejection(tmp_path: Path) -> None:
    """Rejected; the applicant answers "the ID is right"; the desk replies "AW: AW: <reject subject>" with the
    number. The latest reply gives the contract; it was taken for a second rejection."""
    reject = "Ihre Registrierung konnte nicht bearbeitet werden"
    first = thunderbird(
        "Guten Tag,\n\n  - Feld Mitglieds- bzw. Abonnement-ID: unbekannt\n",
        subject=reject,
        date="Wed, 25 Nov 2026 11:00:00 +0100",
    )
    then = outlook(
        ["Entschuldigung, unser Fehler.", f"Ihre Vertragsnummer lautet {CONTRACT}."],
        ["Die ID ist richtig, bitte prüfen Sie noch einmal."],
        subject=f"AW: AW: {reject}",
        msgid="<reply-3@msdirectservices.com>",
        in_reply_to="<applicant-answer@example.org>",
        references=f"{SUB_MSGID} <reply-1@msdirectservices.com> <applicant-answer@example.org>",
        date="Wed, 25 Nov 2026 14:00:00 +0100",
    )
    found = _only(_scan(tmp_path, first, then))
    assert (found.kind, found.contract, found.reasons) == ("contract", CONTRACT, ())
    # Without a number, such a reply (a question in the thread) leaves the rejection as it was.
    question = thunderbird("Welche ID meinen Sie?\n", subject=f"AW: AW: {reject}", msgid="<reply-4@x>")
    found = _only(_scan(tmp_path / "q", first, question))
    assert found.kind == "rejected" and found.reasons == ("Feld Mitglieds- bzw. Abonnement-ID: unbekannt",)


# ---------------------------------------------------------------- what is no answer (these worked already)


def test_an_exchange_out_of_office_is_no_answer(tmp_path: Path) -> None:
    h = _head(
        subject=f"Automatische Antwort: {SUB_SUBJECT}",
        extra="Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n",
    )
    h += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    text = "Ich bin bis einschließlich 30.11.2026 nicht im Büro. Ihre Nachricht wird nicht weitergeleitet.\r\n"
    mail = (h + text + "Fragen zu Vertragsnummern: Telefon 0800 123456\r\n").encode("utf-8")
    assert _scan(tmp_path, mail) == []


def test_a_read_receipt_is_no_answer(tmp_path: Path) -> None:
    """Outlook's read receipt (RFC 8098: multipart/report; report-type=disposition-notification)."""
    b = "----=_Part_MDN_1"
    h = _head(subject=f"Gelesen: {SUB_SUBJECT}", references=None)
    h += f'Content-Type: multipart/report; report-type=disposition-notification;\r\n\tboundary="{b}"\r\n\r\n'
    h += f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIhre Nachricht wurde am 25.11.2026 gelesen.\r\n"
    h += f"--{b}\r\nContent-Type: message/disposition-notification\r\n\r\n"
    h += f"Final-Recipient: rfc822;{DESK}\r\nOriginal-Message-ID: {SUB_MSGID}\r\n"
    h += "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n"
    h += f"--{b}\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {SUB_MSGID}\r\nSubject: x\r\n\r\n--{b}--\r\n"
    assert _scan(tmp_path, h.encode("ascii")) == []


def test_a_rejection_written_by_hand_without_the_reject_subject_is_no_outcome(tmp_path: Path) -> None:
    """Documented: only the desk's reject subject makes a rejection; a hand-written one is left to the applicant
    to read (and the due time still counts), rather than guessing from words that out-of-office mails use too."""
    mail = thunderbird(
        "Guten Tag Frau Müller,\n\nleider können wir Ihre Registrierung nicht bearbeiten: die Mitgliedsnummer "
        "ist uns unbekannt.\n"
    )
    assert _scan(tmp_path, mail) == []
