"""axe-core for the browser tests: installed from npm (pinned in browser.py) into the git-ignored ``var/axe``
on first use, injected into a page, run, and its violations returned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.dashboard.browser import AXE_DIR, axe_source

AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    axe_source()  # installs the pinned version into var/axe on first use (one pin: tests/dashboard/browser.py)
    return AXE_JS


async def axe_violations(page: Page, script: Path) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the context must bypass the page's CSP)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(script))
    result: dict[str, Any] = await page.evaluate("async () => await window.axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
