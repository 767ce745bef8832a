"""axe-core for the browser tests: installed from npm (pinned) into the git-ignored ``var/axe`` on first
use, injected into a page, run, and its violations returned."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

AXE_VERSION = "4.10.2"
AXE_DIR = Path(__file__).resolve().parents[2] / "var" / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    installed = AXE_DIR / "node_modules" / "axe-core" / "package.json"
    if not installed.exists() or f'"version": "{AXE_VERSION}"' not in installed.read_text():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: install nodejs and npm (apt-get install npm) for axe-core")
        subprocess.run(
            [npm, "install", "--prefix", str(AXE_DIR), f"axe-core@{AXE_VERSION}", "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=300,
        )
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
