"""axe-core (npm, package-lock.json pins it) run inside a page the browser tests opened: the
WCAG 2.x A and AA rules and axe's best practices, as a person's screen reader or contrast check
would meet the page. The script is evaluated through the DevTools protocol, which the page's
Content-Security-Policy does not govern, so the page under test keeps its real CSP."""

from __future__ import annotations

from functools import cache
from typing import Any

from tests.browser import ROOT

AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@cache
def _source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Any, *, include: str | None = None) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (or in the element `include` selects)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source())
    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    result: dict[str, Any] = page.evaluate(
        "async ([context, options]) => await window.axe.run(context || document, options)",
        [include, options],
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node, for an assertion's message."""
    lines = []
    for v in violations:
        for node in v["nodes"][:5]:
            lines.append(
                f"{v['id']} ({v['impact']}): {' '.join(node['target'])} — {node['failureSummary']}"
            )
    return "\n".join(lines)


def assert_accessible(page: Any, *, include: str | None = None) -> None:
    """No axe violation on the page (or in `include`)."""
    violations = axe_violations(page, include=include)
    assert not violations, "axe-core found:\n" + describe(violations)
