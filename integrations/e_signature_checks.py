"""Checks of an e-signature request before it is sent: the PDF, its file name and title, the signers and envelope ids.

integrations/e_signature.py documents the rules; each failed check raises ProviderError
"rejected" with a message that names the value (ID and mobile numbers masked) and the fix.
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn, Sequence

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from integrations.errors import ProviderError
from integrations.http import _setting
from integrations.identity import masked
from integrations.sms import masked_phone
from runtime.providers import ProviderConfig

#: The default of the setting `max_document_mb`: the largest document accepted, in MiB.
DEFAULT_MAX_DOCUMENT_MB = 20
#: The maximum number of signers of one envelope.
MAX_SIGNERS = 20
#: The maximum length of a title, a file name and a signer's name, in characters.
MAX_TEXT_CHARS = 100
PDF_HEADER = b"%PDF-"
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_ENVELOPE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Signer(NamedTuple):
    name: str
    #: The resident ID number (居民身份证号).
    id_number: str
    #: The mainland mobile number the signing link is sent to.
    phone: str


def max_document_bytes(config: ProviderConfig) -> int:
    """Return the largest document accepted, in bytes, from the setting `max_document_mb` (MiB)."""
    return int(_setting(config, "max_document_mb", DEFAULT_MAX_DOCUMENT_MB, minimum=0.001) * 1024 * 1024)


def checked_envelope(config: ProviderConfig, document: bytes, filename: str, signers: Sequence[Sequence[str]],
                     title: str) -> list[Signer]:
    """Check a new envelope; return its signers with ID numbers and mobile numbers in their standard form."""
    name = (filename or "").strip()
    if not name or len(name) > MAX_TEXT_CHARS or "/" in name or "\\" in name:
        _reject(config, f"The file name {name!r} must be 1 to {MAX_TEXT_CHARS} characters without a folder; correct it",
                f"文件名 {name!r} 应为 1 到 {MAX_TEXT_CHARS} 个字符且不含目录，请修改")
    if not (title or "").strip() or len(title.strip()) > MAX_TEXT_CHARS:
        _reject(config, f"Enter a title of 1 to {MAX_TEXT_CHARS} characters for the envelope",
                f"请填写 1 到 {MAX_TEXT_CHARS} 个字符的签署标题")
    if not isinstance(document, (bytes, bytearray)) or not document.startswith(PDF_HEADER):
        _reject(config, f"The document {name} is not a PDF: it does not start with %PDF-; upload the contract as a PDF",
                f"文件 {name} 不是 PDF（文件头不是 %PDF-），请上传 PDF 格式的合同")
    limit = max_document_bytes(config)
    if len(document) > limit:
        _reject(config, f"The document {name} is {len(document)} bytes, more than the limit of {limit} bytes; "
                "send a smaller PDF or raise max_document_mb",
                f"文件 {name} 大小为 {len(document)} 字节，超过上限 {limit} 字节；请压缩 PDF 或调大 max_document_mb")
    if isinstance(signers, (str, bytes)) or not signers or len(signers) > MAX_SIGNERS:
        _reject(config, f"An envelope needs 1 to {MAX_SIGNERS} signers", f"签署信封需要 1 到 {MAX_SIGNERS} 名签署人")

    checked: list[Signer] = []
    for index, signer in enumerate(signers, 1):
        if isinstance(signer, str) or not isinstance(signer, Sequence) or len(signer) != 3:
            _reject(config, f"Signer {index} must be (name, ID number, mobile number)",
                    f"第 {index} 名签署人应为（姓名, 身份证号, 手机号）")
        checked.append(_checked_signer(config, index, *signer))
    numbers = [signer.id_number for signer in checked]
    for number in numbers:
        if numbers.count(number) > 1:
            _reject(config, f"The ID number {masked(number)} is listed for two signers; list each signer once",
                    f"身份证号 {masked(number)} 出现在两名签署人中，每名签署人只能列出一次")
    return checked


def checked_envelope_id(config: ProviderConfig, envelope_id: str) -> str:
    """Return an envelope id that is safe in a request path; raise ProviderError "rejected" for another."""
    if not isinstance(envelope_id, str) or not _ENVELOPE_ID.match(envelope_id):
        _reject(config, f"{str(envelope_id)[:70]!r} is not an envelope id: 1 to 64 letters, digits, '-' or '_'",
                f"{str(envelope_id)[:70]!r} 不是有效的信封编号：应为 1 到 64 个字母、数字、“-”或“_”")
    return envelope_id


def _checked_signer(config: ProviderConfig, index: int, name: str, id_number: str, phone: str) -> Signer:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_TEXT_CHARS:
        _reject(config, f"Enter the name of signer {index}", f"请填写第 {index} 名签署人的姓名")
    number = (id_number or "").strip().upper() if isinstance(id_number, str) else ""
    try:
        number = str(ric.validate(number))
    except ValidationError:
        _reject(config, f"The ID number {masked(number)} of signer {index} is not valid; check it",
                f"第 {index} 名签署人的身份证号 {masked(number)} 无效，请核对")
    mobile = re.sub(r"[\s-]", "", phone or "") if isinstance(phone, str) else ""
    if not _MOBILE.match(mobile):
        _reject(config, f"The mobile number {masked_phone(mobile)} of signer {index} is not a mainland mobile number; check it",
                f"第 {index} 名签署人的手机号 {masked_phone(mobile)} 不是有效的中国大陆手机号，请核对")
    return Signer(name.strip(), number, mobile)


def _reject(config: ProviderConfig, en: str, zh: str) -> NoReturn:
    raise ProviderError(config.name, "rejected", en, zh)
