"""What a server's rate-limit headers say of its budget: limit, remaining, reset, window."""

from __future__ import annotations

import re
import time
import typing as t
from dataclasses import dataclass

#: a reset value above this is a Unix time, below it a number of seconds (X-RateLimit-Reset
#: is epoch seconds on GitHub and many others, delta seconds in the IETF draft)
EPOCH_THRESHOLD = 1_000_000_000
#: above this, a Unix time in milliseconds (some APIs send ``Date.now()``)
_EPOCH_MS_THRESHOLD = 100_000_000_000

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Quota:
    """One answer's view of the server's budget; each part None when the headers omit it."""

    limit: float | None = None
    remaining: float | None = None
    #: seconds from now until the budget is restored
    reset: float | None = None
    #: seconds the limit applies to (IETF ``RateLimit-Policy: 100;w=60``)
    window: float | None = None

    @property
    def rate(self) -> float | None:
        """Return the requests per second the policy allows (limit and window both known)."""
        if self.limit and self.window:
            return self.limit / self.window
        return None


def _number(value: str | None) -> float | None:
    """Return the leading number of a header value (``10`` of ``10, 10;w=1``), else None."""
    match = _NUMBER.match(value or "")
    return float(match.group(1)) if match else None


def _reset_seconds(value: float, now: float) -> float:
    """Return a reset as seconds from now, whether it is delta seconds or epoch (s or ms)."""
    if value > _EPOCH_MS_THRESHOLD:
        return max(value / 1000 - now, 0.0)
    if value > EPOCH_THRESHOLD:
        return max(value - now, 0.0)
    return value


def _fields(value: str | None) -> dict[str, str]:
    """Return ``key=value`` parameters of a structured header (``limit=10, r=0;t=5``)."""
    return {k.lower(): v for k, v in re.findall(r"\b([A-Za-z]+)\s*=\s*([\d.]+)", value or "")}


def parse_quota(headers: t.Mapping[str, str], now: float | None = None) -> Quota | None:
    """Return what an answer's rate-limit headers say, or None when it has none.

    Reads ``RateLimit-Limit/Remaining/Reset`` (IETF, reset in delta seconds),
    ``X-RateLimit-*`` and ``X-Rate-Limit-*`` (GitHub: reset in epoch seconds),
    ``X-RateLimit-Reset-After`` (Discord), the structured ``RateLimit: limit=10, remaining=0,
    reset=5`` or ``RateLimit: "default";r=0;t=5`` with ``RateLimit-Policy: 10;w=1`` or
    ``"default";q=10;w=1``, and Shopify's leaky bucket ``X-Shopify-Shop-Api-Call-Limit: 39/40``.
    """
    # Most answers carry none of these: one pass over the names, not twenty lookups.
    if not any("rate" in name or "limit" in name for name in map(str.lower, headers)):
        return None
    clock = time.time() if now is None else now
    limit = remaining = reset = window = None
    for prefix in ("RateLimit-", "X-RateLimit-", "X-Rate-Limit-"):
        limit = limit if limit is not None else _number(headers.get(prefix + "Limit"))
        if remaining is None:
            remaining = _number(headers.get(prefix + "Remaining"))
        if reset is None:
            raw = _number(headers.get(prefix + "Reset"))
            reset = _reset_seconds(raw, clock) if raw is not None else None
    if reset is None:
        reset = _number(headers.get("X-RateLimit-Reset-After"))
    combined = _fields(headers.get("RateLimit"))
    if combined:
        limit = limit if limit is not None else _number(combined.get("limit"))
        if remaining is None:
            remaining = _number(combined.get("remaining") or combined.get("r"))
        if reset is None:
            reset = _number(combined.get("reset") or combined.get("t"))
    # The policy: its own header, or after the limit's first number (draft 03: "10, 10;w=1").
    # The first policy with a window counts (a list names the tightest first).
    policies = (headers.get("RateLimit-Policy") or headers.get("RateLimit-Limit") or "").split(",")
    for item in policies:
        policy = _fields(item)
        if policy.get("w"):
            window = _number(policy["w"])
            quota = _number(policy.get("q")) or _number(item)
            limit = limit if limit is not None else quota
            break
    bucket = headers.get("X-Shopify-Shop-Api-Call-Limit") or ""
    shopify = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", bucket)
    if shopify and remaining is None:
        used, limit = float(shopify.group(1)), float(shopify.group(2))
        remaining = max(limit - used, 0.0)
    if limit is None and remaining is None and reset is None:
        return None
    return Quota(limit=limit, remaining=remaining, reset=reset, window=window)


def exhausted_wait(headers: t.Mapping[str, str], now: float | None = None) -> float | None:
    """Return how long to wait when the headers say no request is left (and when), else None."""
    quota = parse_quota(headers, now)
    if quota is None or quota.remaining is None or quota.remaining > 0 or quota.reset is None:
        return None
    return quota.reset
