"""End-to-end-encryption helpers nio lacks: cross-signing the bot and judging others' devices."""

from bot.crypto.cross_signing import CrossSigningStatus, ensure_cross_signed
from bot.crypto.trust import DeviceTrust, TrustStore, UserTrust, evaluate_user, evaluate_with_store

__all__ = [
    "CrossSigningStatus",
    "DeviceTrust",
    "TrustStore",
    "UserTrust",
    "ensure_cross_signed",
    "evaluate_user",
    "evaluate_with_store",
]
