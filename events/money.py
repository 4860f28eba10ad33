"""Money as people read it. Amounts are integer minor units with the currency beside them
(as Stripe counts); every currency we accept has two decimal places."""

from __future__ import annotations

CURRENCY_SYMBOLS = {"usd": "$", "cad": "CA$", "eur": "€", "gbp": "£", "aud": "A$"}
MINOR_PER_MAJOR = 100


def format_major(amount_minor: int) -> str:
    """5000 → '50', 1250 → '12.50' (no symbol, no grouping: also what a form field shows)."""
    major, minor = divmod(amount_minor, MINOR_PER_MAJOR)
    return f"{major}" if minor == 0 else f"{major}.{minor:02d}"


def format_money(amount_minor: int, currency: str, *, grouped: bool = False) -> str:
    """5000, 'usd' → '$50'; 123456 → '$1234.56', or '$1,234.56' when `grouped`."""
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    if not grouped:
        return symbol + format_major(amount_minor)
    major, minor = divmod(amount_minor, MINOR_PER_MAJOR)
    return symbol + (f"{major:,}" if minor == 0 else f"{major:,}.{minor:02d}")


def format_compact_money(amount_minor: int, currency: str) -> str:
    """An axis label: $0, $750, $2.5k, $120k, $1.2M."""
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    major = amount_minor / MINOR_PER_MAJOR
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if major >= size:
            scaled = major / size
            text = f"{scaled:.1f}".removesuffix(".0") if scaled < 10 else f"{scaled:,.0f}"
            return f"{symbol}{text}{suffix}"
    return symbol + format_major(amount_minor)
