"""A throwaway PKI: a root CA and a digitiser's certificate in a PKCS#12.

For the tests and for `sohoa signer demo`, which lets a demo or a training counter sign
its archives before the real certificates (issued by a Vietnamese CA) are installed. Its
signatures validate only against its own root: they are not legal signatures. Built with
``cryptography`` only; nothing is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

DEFAULT_PASSWORD = b"mat-khau-quay-1"
ROOT_CA_NAME = "sohoa test root CA"


@dataclass(frozen=True)
class ThrowawayPki:
    root_certificate: Path  # PEM: give it to verify_pdf_signature(trust_roots=[...])
    pkcs12: Path  # the digitiser's key, certificate and the CA certificate
    password: bytes
    signer_common_name: str
    not_before: datetime
    not_after: datetime


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_pki(
    directory: Path,
    *,
    signer_common_name: str = "Nguyễn Thị Thu Hằng",
    password: bytes = DEFAULT_PASSWORD,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    stem: str = "digitiser",
) -> ThrowawayPki:
    """Write ``root-ca.pem`` and ``<stem>.p12`` in ``directory``.

    The digitiser certificate is valid from ``not_before`` to ``not_after`` (default: a day
    ago to a year ahead); pass a past ``not_after`` for an expired one.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    not_before = not_before or now - timedelta(days=1)
    not_after = not_after or now + timedelta(days=365)
    # The root outlives the digitiser's certificate on both sides, expired ones included.
    ca_key, ca_certificate = root_ca(
        min(not_before, now) - timedelta(days=30), max(not_after, now) + timedelta(days=3650)
    )
    key, certificate = digitiser_certificate(
        signer_common_name, ca_key, ca_certificate, not_before, not_after
    )
    root_path = directory / "root-ca.pem"
    root_path.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    p12_path = directory / f"{stem}.p12"
    p12_path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name=signer_common_name.encode("utf-8"),
            key=key,
            cert=certificate,
            cas=[ca_certificate],
            encryption_algorithm=serialization.BestAvailableEncryption(password),
        )
    )
    return ThrowawayPki(
        root_certificate=root_path,
        pkcs12=p12_path,
        password=password,
        signer_common_name=signer_common_name,
        not_before=not_before,
        not_after=not_after,
    )


def root_ca(
    not_before: datetime, not_after: datetime
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed root that may sign certificates and nothing else."""
    key = _key()
    name = _name(ROOT_CA_NAME, "sohoa test")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def digitiser_certificate(
    common_name: str,
    ca_key: rsa.RSAPrivateKey,
    ca_certificate: x509.Certificate,
    not_before: datetime,
    not_after: datetime,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A person's signing certificate issued by the root, for signatures they stand by."""
    key = _key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, "Bưu điện tỉnh Quảng Ninh"))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # content_commitment (non-repudiation): a personal signature.
            _key_usage(digital_signature=True, content_commitment=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, certificate


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    """A key usage allowing only what is named (encipherment and key agreement never)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )
