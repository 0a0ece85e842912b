"""E-signature (电子签章): send a PDF to be signed, follow its envelope, and download the signed document.

The interface, for hooks (`context.providers["e_signature"]`):

    create_envelope(document, filename, signers, *, title) -> Envelope
    status(envelope_id) -> EnvelopeStatus
    download(envelope_id) -> SignedDocument
    parse_callback(method, path, headers, body) -> runtime.callbacks.Callback

`create_envelope` sends a PDF (bytes) with its file name and title to be signed by
`signers`, a list of (name, resident ID number, mainland mobile number), such as `Signer`
tuples. It returns the envelope id and one signing link per signer, in the signers' order.
Before any request it raises ProviderError "rejected" for a document that does not start
with the PDF header %PDF- or is larger than the setting `max_document_mb` (MiB, default
20). It rejects in the same way an empty title or file name and a file name with a folder.
It also rejects no signer or more than MAX_SIGNERS, a signer without a name or with an
invalid ID number or mobile number, and an ID number listed twice.

An envelope's status is "sent" until every signer signed ("signed"), one declined
("declined") or its deadline passed ("expired"). `download` returns the signed PDF of a
signed envelope after checking it against the digest the provider states. A document that
does not match, or is not a PDF, raises ProviderError "bad_response". Envelope ids are 1
to 64 letters, digits, "-" or "_"; another id is rejected before any request.

Callbacks arrive at POST /callbacks/<integration>, signed like requests
(integrations/signing.py) with METADESK_<NAME>_SECRET, as JSON
{"event_id", "envelope_id", "event": "envelope_signed" | "envelope_declined" | "envelope_expired",
"reason", "occurred_at"}; `reason` (why a signer declined) and `occurred_at` (ISO 8601) may be
null. The callback's kind is its event, and its payload {"envelope_id", "status", "reason",
"occurred_at"}.

HTTP provider:
  POST {BASE_URL}/esign/envelopes with {"title", "filename", "document_base64",
    "document_sha256", "signers": [{"name", "id_number", "phone"}]}; the provider responds
    with {"envelope_id", "status", "signing_links": [url, one per signer in order]}.
  GET {BASE_URL}/esign/envelopes/{envelope_id}; the provider responds with
    {"envelope_id", "status", "reason"}.
  GET {BASE_URL}/esign/envelopes/{envelope_id}/document; the provider responds with
    {"envelope_id", "content_base64", "digest_algorithm": "sha256" (when absent) | "sm3",
    "digest": hex}.

Sandbox provider: settles every envelope at once, by its signers' mobile numbers. A signer
whose number ends in 0000 declines (reason "signer_declined"); otherwise a number ending in
9999 lets the envelope expire; otherwise all sign. Envelope ids come from the content and
the number of envelopes created before, as in the SMS sandbox, so a demo that creates the
same envelopes in the same order gets the same ids. The signed document is a one-page PDF
naming the envelope, the SHA-256 of the original and the masked ID numbers of the signers,
the same bytes for the same envelope. The sandbox keeps the newest SANDBOX_ENVELOPES
envelopes; `callback_request(envelope_id)` returns the headers and body of the signed
callback the envelope's outcome would send. Sandbox callbacks are signed with
METADESK_<NAME>_SECRET, or with SANDBOX_SECRET when that is not set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from integrations.callback_events import BadCallback, callback_secret, read_event, sandbox_request, sandbox_secret
from integrations.errors import ProviderError
from integrations.e_signature_checks import MAX_SIGNERS, Signer, checked_envelope, checked_envelope_id
from integrations.http import HttpProvider
from integrations.identity import masked
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig, register_provider

logger = logging.getLogger(__name__)

INTERFACE = "e_signature"
#: The statuses of an envelope.
STATUSES = ("sent", "signed", "declined", "expired")
#: The callback events, and the status each reports.
EVENTS = {"envelope_signed": "signed", "envelope_declined": "declined", "envelope_expired": "expired"}
#: The digest algorithms a provider may state for a signed document, by their hashlib names.
DIGEST_ALGORITHMS = ("sha256", "sm3")
#: How many envelopes the sandbox keeps, the newest ones.
SANDBOX_ENVELOPES = 1000
_LINK = re.compile(r"^https?://\S+$")

__all__ = ["MAX_SIGNERS", "Envelope", "EnvelopeStatus", "HttpESignature", "SandboxESignature", "SignedDocument", "Signer",
           "SigningLink", "parse_event", "sandbox_pdf"]


@dataclass(frozen=True)
class SigningLink:
    #: The signer's name, as given to create_envelope.
    signer: str
    url: str


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    #: One of STATUSES; "sent" from an HTTP provider, already settled in the sandbox.
    status: str
    links: tuple[SigningLink, ...]


@dataclass(frozen=True)
class EnvelopeStatus:
    envelope_id: str
    status: str
    #: Why a signer declined, or None.
    reason: str | None = None


@dataclass(frozen=True)
class SignedDocument:
    envelope_id: str
    #: The signed PDF.
    content: bytes
    digest_algorithm: str
    #: The hex digest of `content`, as the provider stated and this module checked.
    digest: str


def parse_event(secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
    """Verify an envelope callback's signature and read it; raise SignatureRejected or BadCallback."""
    document = read_event(secret, method, path, headers, body, shape_en="event_id, envelope_id and event",
                          shape_zh="event_id、envelope_id 和 event")
    event, envelope_id = document.get("event"), document.get("envelope_id")
    if event not in EVENTS or not isinstance(envelope_id, str) or not envelope_id:
        raise BadCallback("The envelope callback needs an envelope_id and an event envelope_signed, envelope_declined "
                          "or envelope_expired", "签章回调需要 envelope_id 以及 event（envelope_signed、envelope_declined 或 envelope_expired）")
    reason, occurred_at = document.get("reason"), document.get("occurred_at")
    if not (reason is None or isinstance(reason, str)) or not (occurred_at is None or isinstance(occurred_at, str)):
        raise BadCallback("The envelope callback's reason and occurred_at must be text or null",
                          "签章回调的 reason 和 occurred_at 应为字符串或 null")
    payload = {"envelope_id": envelope_id, "status": EVENTS[str(event)], "reason": reason, "occurred_at": occurred_at}
    return Callback(document["event_id"], str(event), payload)


@register_provider(INTERFACE, "http")
class HttpESignature(HttpProvider):
    service_en = "the e-signature service"
    service_zh = "电子签章服务"

    def create_envelope(self, document: bytes, filename: str, signers: Sequence[Sequence[str]], *, title: str) -> Envelope:
        checked = checked_envelope(self.config, document, filename, signers, title)
        payload = {"title": title.strip(), "filename": filename.strip(),
                   "document_base64": base64.b64encode(document).decode("ascii"),
                   "document_sha256": hashlib.sha256(document).hexdigest(),
                   "signers": [{"name": signer.name, "id_number": signer.id_number, "phone": signer.phone} for signer in checked]}
        answer = self.call("POST", "/esign/envelopes", payload, operation="create_envelope",
                           ids={"bytes": len(document), "signers": ",".join(masked(signer.id_number) for signer in checked)})
        envelope_id, status, links = answer.get("envelope_id"), answer.get("status"), answer.get("signing_links")
        if (not isinstance(envelope_id, str) or not envelope_id or status not in STATUSES or not isinstance(links, list)
                or len(links) != len(checked) or not all(isinstance(link, str) and _LINK.match(link) for link in links)):
            raise self._unreadable("an envelope", "签章信封")
        return Envelope(envelope_id, str(status), tuple(SigningLink(signer.name, str(link)) for signer, link in zip(checked, links)))

    def status(self, envelope_id: str) -> EnvelopeStatus:
        envelope_id = checked_envelope_id(self.config, envelope_id)
        answer = self.call("GET", f"/esign/envelopes/{envelope_id}", None, operation="status", ids={"envelope": envelope_id})
        status, reason = answer.get("status"), answer.get("reason")
        if answer.get("envelope_id") != envelope_id or status not in STATUSES or not (reason is None or isinstance(reason, str)):
            raise self._unreadable("an envelope status", "信封状态")
        return EnvelopeStatus(envelope_id, str(status), reason)

    def download(self, envelope_id: str) -> SignedDocument:
        envelope_id = checked_envelope_id(self.config, envelope_id)
        answer = self.call("GET", f"/esign/envelopes/{envelope_id}/document", None, operation="download",
                           ids={"envelope": envelope_id})
        algorithm = answer.get("digest_algorithm") or "sha256"
        stated, encoded = answer.get("digest"), answer.get("content_base64")
        if (answer.get("envelope_id") != envelope_id or algorithm not in DIGEST_ALGORITHMS or not isinstance(stated, str)
                or not isinstance(encoded, str)):
            raise self._unreadable("a signed document", "签署文件")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise self._unreadable("a signed document", "签署文件") from None

        digest = hashlib.new(str(algorithm), content).hexdigest()
        if digest != stated.strip().lower():
            logger.warning("%s download %s: the document's %s digest %s differs from the stated %s", self.config.name,
                           envelope_id, algorithm, digest, stated[:128])
            raise ProviderError(self.config.name, "bad_response",
                                f"The signed document of envelope {envelope_id} does not match the {algorithm} digest the "
                                "e-signature service states; it may be damaged, try again later",
                                f"信封 {envelope_id} 的签署文件与电子签章服务给出的 {algorithm} 摘要不一致，文件可能已损坏，请稍后重试")
        if not content.startswith(b"%PDF-"):
            logger.warning("%s download %s: the signed document is not a PDF", self.config.name, envelope_id)
            raise ProviderError(self.config.name, "bad_response",
                                f"The signed document of envelope {envelope_id} is not a PDF; try again later",
                                f"信封 {envelope_id} 的签署文件不是 PDF，请稍后重试")
        return SignedDocument(envelope_id, content, str(algorithm), digest)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_event(callback_secret(self.config, self.secret), method, path, headers, body)

    def _unreadable(self, what_en: str, what_zh: str) -> ProviderError:
        return ProviderError(self.config.name, "bad_response",
                             f"The e-signature service sent {what_en} that cannot be read; try again later",
                             f"电子签章服务返回的{what_zh}无法解析，请稍后重试")


def sandbox_pdf(lines: Sequence[str]) -> bytes:
    """Return a one-page PDF 1.4 that prints `lines` (ASCII) in Helvetica, with a cross-reference table of exact offsets."""
    text_operators = " ".join("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for line in lines)
    stream = f"BT /F1 11 Tf 16 TL 56 800 Td {text_operators} ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    # The second line's bytes above 127 mark the file as binary for programs that guess.
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    table_offset = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table_offset)
    return bytes(pdf)


@dataclass(frozen=True)
class _SandboxEnvelope:
    envelope: Envelope
    reason: str | None
    document_sha256: str
    signers: tuple[Signer, ...]


@register_provider(INTERFACE, "sandbox")
class SandboxESignature:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.secret = sandbox_secret(config)
        #: How many envelopes this provider created, which makes each envelope id unique.
        self.created = 0
        self._envelopes: OrderedDict[str, _SandboxEnvelope] = OrderedDict()
        self._lock = threading.Lock()

    def create_envelope(self, document: bytes, filename: str, signers: Sequence[Sequence[str]], *, title: str) -> Envelope:
        checked = checked_envelope(self.config, document, filename, signers, title)
        document_sha256 = hashlib.sha256(document).hexdigest()
        phones = [signer.phone for signer in checked]
        reason: str | None = None
        if any(phone.endswith("0000") for phone in phones):
            status, reason = "declined", "signer_declined"
        elif any(phone.endswith("9999") for phone in phones):
            status = "expired"
        else:
            status = "signed"

        content = "|".join([title.strip(), filename.strip(), document_sha256, *(signer.id_number for signer in checked)])
        with self._lock:
            self.created += 1
            envelope_id = "sbx-env-" + hashlib.sha256(f"{self.created}|{content}".encode("utf-8")).hexdigest()[:20]
            links = tuple(SigningLink(signer.name, f"https://esign.sandbox.invalid/sign/{envelope_id}/{index}")
                          for index, signer in enumerate(checked, 1))
            envelope = Envelope(envelope_id, status, links)
            self._envelopes[envelope_id] = _SandboxEnvelope(envelope, reason, document_sha256, tuple(checked))
            # The provider lives as long as the process, so it keeps only the newest envelopes.
            while len(self._envelopes) > SANDBOX_ENVELOPES:
                self._envelopes.popitem(last=False)
        return envelope

    def status(self, envelope_id: str) -> EnvelopeStatus:
        stored = self._stored(envelope_id)
        return EnvelopeStatus(stored.envelope.envelope_id, stored.envelope.status, stored.reason)

    def download(self, envelope_id: str) -> SignedDocument:
        stored = self._stored(envelope_id)
        if stored.envelope.status != "signed":
            raise ProviderError(self.config.name, "rejected",
                                f"Envelope {envelope_id} is {stored.envelope.status}, not signed; only a signed envelope can be downloaded",
                                f"信封 {envelope_id} 的状态为 {stored.envelope.status}，尚未签署完成，无法下载")
        lines = ["metadesk sandbox: signed document", f"Envelope: {envelope_id}",
                 f"Original SHA-256: {stored.document_sha256}",
                 *(f"Signed by signer {index}: {masked(signer.id_number)}" for index, signer in enumerate(stored.signers, 1))]
        content = sandbox_pdf(lines)
        return SignedDocument(envelope_id, content, "sha256", hashlib.sha256(content).hexdigest())

    def callback_request(self, envelope_id: str, path: str | None = None) -> tuple[dict[str, str], bytes]:
        """Return the headers and body of the signed callback that reports the envelope's outcome, posted to `path`."""
        stored = self._stored(envelope_id)
        event = next(name for name, status in EVENTS.items() if status == stored.envelope.status)
        document: dict[str, Any] = {"event_id": f"{envelope_id}-{event}", "envelope_id": envelope_id, "event": event,
                                    "reason": stored.reason, "occurred_at": None}
        return sandbox_request(self.secret, path or f"/callbacks/{self.config.name}", document)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_event(self.secret, method, path, headers, body)

    def _stored(self, envelope_id: str) -> _SandboxEnvelope:
        envelope_id = checked_envelope_id(self.config, envelope_id)
        with self._lock:
            stored = self._envelopes.get(envelope_id)
        if stored is None:
            raise ProviderError(self.config.name, "rejected", f"The e-signature sandbox has no envelope {envelope_id}",
                                f"电子签章沙箱中没有信封 {envelope_id}")
        return stored
