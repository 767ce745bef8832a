"""RSS growth of the API process while it receives a 100 MB document (multipart, streamed by curl)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from bench.sampler import RssSampler
from bench.stack import OWNER, RECIPIENT, Stack

SIZE = 100 * 2**20 - 64 * 1024  # just under the 100 MB document limit


def make_document(path: Path) -> Path:
    line = b"TGO Business benchmark document: a plain-text file of one hundred megabytes, line after line.\n"
    with path.open("wb") as fh:
        written = 0
        block = line * (1_048_576 // len(line))
        while written + len(block) <= SIZE:
            fh.write(block)
            written += len(block)
        fh.write(line[:0] + b"x" * (SIZE - written - 1) + b"\n")
    return path


def upload_growth(stack: Stack, workdir: Path) -> dict[str, Any]:
    doc = make_document(workdir / "document-100mb.txt")
    api = stack.procs["api"]
    time.sleep(1.0)
    with RssSampler({"api": api.rss_bytes}, interval=0.02) as sampler:
        baseline = sampler.first["api"]
        t0 = time.monotonic()
        done = subprocess.run(
            [
                "curl", "-sS", "-o", str(workdir / "upload-response.json"), "-w", "%{http_code}",
                "-H", f"X-Api-Key: {stack.api_key}",
                "-F", "type=document", "-F", f"sender_phone={OWNER}", "-F", f"to_phone={RECIPIENT}",
                "-F", "caption=100 MB benchmark upload",
                "-F", f"media=@{doc};type=text/plain;filename=document-100mb.txt",
                f"{stack.api_url}/api/v1/messages",
            ],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        seconds = time.monotonic() - t0
    doc.unlink(missing_ok=True)
    return {
        "status": int(done.stdout.strip() or 0),
        "bytes": SIZE,
        "seconds": round(seconds, 2),
        "mb_per_s": round(SIZE / 2**20 / max(seconds, 1e-9), 1),
        "api_rss_before_mb": round(baseline / 2**20, 1),
        "api_rss_peak_mb": round(sampler.peak["api"] / 2**20, 1),
        "api_rss_growth_mb": round((sampler.peak["api"] - baseline) / 2**20, 1),
    }
