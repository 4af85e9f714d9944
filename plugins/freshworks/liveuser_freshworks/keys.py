"""Reading the RSA public keys Freshchat and the business hand out."""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

_PEM_ARMOR: Final = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or bare base64, SubjectPublicKeyInfo or PKCS#1.

    Freshchat shows its webhook key under a ``BEGIN RSA PUBLIC KEY`` label with
    SubjectPublicKeyInfo content, so the label is not trusted: the base64 body
    is decoded and read as either structure. Raises ``ValueError``.
    """
    # cryptography is imported by the first key read, not by loading the plugin.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    body = "".join(_PEM_ARMOR.sub("", text).split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the public key is not PEM or base64") from None
    key: object = None
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der)
        pem += b"-----END RSA PUBLIC KEY-----\n"
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm):
            raise ValueError("the public key cannot be read") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the public key is not an RSA key")
    return key
