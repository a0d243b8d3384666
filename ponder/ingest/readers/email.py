"""E-mail: EML (the standard library's parser) and Outlook MSG (olefile, BSD: the MSG properties
read directly; extract-msg, the usual reader, is GPL).

A message is one document: its subject as the title, then From, To, Cc and Date lines (searchable:
"what did Alice send about the budget"), then the body — the HTML body through the HTML reader
when there is one (tables kept, hidden text dropped as on a web page), else the plain text. The
sent date is the document's date, so date filters find a message by when it was sent. Each
attachment comes back as bytes with its file name, and the ingest makes it a document of its own
at ``<message path>/<file name>``: a citation reads ``mail.eml/budget.xlsx › Q3 › rows 2-5``, and
removing or changing the message removes or replaces its attachments.

Example::

    converted = convert_email(Path("decision.eml"), raw)
    converted.pages[0].splitlines()[0], [name for name, _ in converted.attachments]
    # ('# Budget decision', ['budget.xlsx'])
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import email.utils
import io
import mimetypes
import re
import struct
from datetime import datetime, timezone
from email.message import EmailMessage, Message
from pathlib import PurePath

from ponder.ingest.readers import Converted, IngestError
from ponder.ingest.readers.html import html_to_markdown

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def convert_email(path: PurePath, raw: bytes, figures: bool = True) -> Converted:
    if path.suffix.lower() == ".msg":
        return _msg(path, raw, figures)
    return _eml(path, raw, figures)


def _message(subject: str, headers: list[tuple[str, str]], body: Converted,
             attachments: list[tuple[str, bytes]], date: float | None) -> Converted:
    lines = [f"# {' '.join(subject.split()) or '(no subject)'}", ""]
    lines += [f"{name}: {' '.join(value.split())}" for name, value in headers if value.strip()]
    if attachments:
        lines.append(f"Attachments: {', '.join(name for name, _ in attachments)}")
    text = "\n".join(lines).rstrip() + "\n\n" + (body.pages[0] if body.pages else "")
    return dataclasses.replace(body, pages=[text], attachments=_named(attachments), date=date)


def _body(html: str | None, plain: str | None, figures: bool) -> Converted:
    if html and html.strip():
        return html_to_markdown(html, figures=figures, whole=True)
    return Converted([(plain or "").replace("\r\n", "\n")])


def _named(attachments: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """File names safe to put under the message's path: the last part of the name only ("../x" is
    "x"), and the second "report.pdf" of a message "report (2).pdf"."""
    seen: set[str] = set()
    named = []
    for number, (name, data) in enumerate(attachments, start=1):
        base = re.sub(r"[\x00-\x1f]", "", PurePath(name.replace("\\", "/")).name).strip(" .") or f"attachment-{number}"
        stem, suffix = PurePath(base).stem, PurePath(base).suffix
        candidate, copy = base, 1
        while candidate.lower() in seen:
            copy += 1
            candidate = f"{stem} ({copy}){suffix}"
        seen.add(candidate.lower())
        named.append((candidate, data))
    return named


# -- EML ------------------------------------------------------------------------------------------
def _eml(path: PurePath, raw: bytes, figures: bool) -> Converted:
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything it raises means unreadable
        raise IngestError(path, f"not a readable e-mail ({type(exc).__name__}: {exc})") from None
    if not isinstance(message, EmailMessage) or not any(message.get(h) for h in ("From", "Subject", "Date", "To")):
        raise IngestError(path, "not an e-mail message (no From, To, Subject or Date header)")
    html = plain = None
    try:
        if (part := message.get_body(preferencelist=("html",))) is not None:
            html = part.get_content()
        if (part := message.get_body(preferencelist=("plain",))) is not None:
            plain = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: the bytes as UTF-8, replacing what is not
        payload = message.get_payload(decode=True)
        plain = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    attachments: list[tuple[str, bytes]] = []
    for number, part in enumerate(message.iter_attachments(), start=1):
        if part.get_content_type() == "message/rfc822":  # a forwarded message, attached whole
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else payload
            forwarded = inner if isinstance(inner, Message) else None
            content = forwarded.as_bytes() if forwarded is not None else b""
            subject = forwarded.get("Subject", "") if forwarded is not None else ""
            name = part.get_filename() or f"{subject or f'message-{number}'}.eml"
        else:
            data = part.get_payload(decode=True)
            content = data if isinstance(data, bytes) else b""
            extension = mimetypes.guess_extension(part.get_content_type()) or ""
            name = part.get_filename() or f"attachment-{number}{extension}"
        attachments.append((name, content))
    headers = [(name, str(message.get(name, ""))) for name in ("From", "To", "Cc")]
    date = None
    if message.get("Date"):
        try:
            sent = email.utils.parsedate_to_datetime(str(message["Date"]))
            headers.append(("Date", sent.isoformat(sep=" ")))
            date = sent.timestamp()
        except (TypeError, ValueError):
            headers.append(("Date", str(message["Date"])))
    return _message(str(message.get("Subject", "")), headers, _body(html, plain, figures), attachments, date)


# -- MSG ------------------------------------------------------------------------------------------
# MAPI property ids (the high half of a property tag) and the types their streams hold.
_SUBJECT, _SENDER_NAME, _SENDER_ADDRESS, _TO, _CC = 0x0037, 0x0C1A, 0x0C1F, 0x0E04, 0x0E03
_BODY, _HTML = 0x1000, 0x1013
_SENT, _DELIVERED = 0x0039, 0x0E06  # PT_SYSTIME, in the fixed-size properties stream
_ATTACH_DATA, _ATTACH_LONG_NAME, _ATTACH_NAME = 0x3701, 0x3707, 0x3704


def _msg(path: PurePath, raw: bytes, figures: bool) -> Converted:
    import olefile

    if not raw.startswith(_OLE):
        raise IngestError(path, "not an Outlook message (not an OLE compound file)")
    try:
        ole = olefile.OleFileIO(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - olefile raises OSError and its own errors for broken files
        raise IngestError(path, f"not a readable Outlook message ({type(exc).__name__}: {exc})") from None
    with ole:
        if not ole.exists("__properties_version1.0") or not any(
                ole.exists(f"__substg1.0_{tag}") for tag in ("0037001F", "0037001E", "1000001F", "1000001E")):
            raise IngestError(path, "not an Outlook message (no message properties)")
        strings = _Strings(ole, "")
        sender = strings.get(_SENDER_NAME)
        address = strings.get(_SENDER_ADDRESS)
        if address and "@" in address and address not in sender:
            sender = f"{sender} <{address}>" if sender else address
        when = _systime(ole.openstream("__properties_version1.0").read(), 32, (_SENT, _DELIVERED))
        headers = [("From", sender), ("To", strings.get(_TO)), ("Cc", strings.get(_CC))]
        if when is not None:
            headers.append(("Date", when.isoformat(sep=" ")))
        html = strings.get(_HTML)
        attachments = []
        folders = sorted({entry[0] for entry in ole.listdir() if entry[0].startswith("__attach_version1.0_")})
        for number, folder in enumerate(folders, start=1):
            fields = _Strings(ole, folder + "/")
            data = fields.binary(_ATTACH_DATA)
            if data is None:  # an attached Outlook item (stored as a sub-storage) or a link: not read
                continue
            attachments.append((fields.get(_ATTACH_LONG_NAME) or fields.get(_ATTACH_NAME) or f"attachment-{number}",
                                data))
        return _message(strings.get(_SUBJECT), headers, _body(html, strings.get(_BODY), figures), attachments,
                        when.timestamp() if when else None)


class _Strings:
    """A MSG storage's variable-size properties: Unicode (001F), 8-bit (001E) and binary (0102) streams."""

    def __init__(self, ole, prefix: str):
        self._ole = ole
        self._prefix = prefix

    def binary(self, property_id: int) -> bytes | None:
        name = f"{self._prefix}__substg1.0_{property_id:04X}0102"
        return self._ole.openstream(name).read() if self._ole.exists(name) else None

    def get(self, property_id: int) -> str:
        for kind, encoding in (("001F", "utf-16-le"), ("001E", "cp1252"), ("0102", "utf-8")):
            name = f"{self._prefix}__substg1.0_{property_id:04X}{kind}"
            if self._ole.exists(name):
                return self._ole.openstream(name).read().decode(encoding, "replace").rstrip("\x00")
        return ""


def _systime(properties: bytes, header: int, wanted: tuple[int, ...]) -> datetime | None:
    """The first of ``wanted`` (PT_SYSTIME) in a properties stream: 16-byte entries after the header."""
    found = {}
    for offset in range(header, len(properties) - 15, 16):
        tag, _, value = struct.unpack_from("<IIQ", properties, offset)
        if tag & 0xFFFF == 0x0040 and value:
            found[tag >> 16] = value
    for property_id in wanted:
        if property_id in found:  # 100-nanosecond intervals since 1601-01-01
            seconds = found[property_id] / 10_000_000 - 11_644_473_600
            try:
                return datetime.fromtimestamp(seconds, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None
    return None
