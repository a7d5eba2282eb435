"""The throwaway PKI the signing tests use: the same one `sohoa signer demo` makes."""

from app.demo_pki import DEFAULT_PASSWORD, ThrowawayPki, make_pki

__all__ = ["DEFAULT_PASSWORD", "ThrowawayPki", "make_pki"]
