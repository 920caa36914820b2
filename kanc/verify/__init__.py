"""Bit-exact verification of a model on a board against the host simulator."""
from kanc.verify.verify import VerifyResult, verify

__all__ = ["VerifyResult", "verify"]
