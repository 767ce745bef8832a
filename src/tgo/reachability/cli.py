"""`tgo reachability sync`: the operator's resync of the reachability directory from Connect (after a restore,
a long outage of the event pump, or to bring phones that are catching up back in sequence), with progress."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tgo.channels.connect_types import ConnectError
from tgo.cli import JsonOpt, emit, err, fail, out, run
from tgo.kit.pagination import MAX_LIMIT
from tgo.runtime import Runtime

reachability_app: typer.Typer = typer.Typer(
    help="The reachability directory (the Business side's copy of who can receive on Connect).",
    no_args_is_help=True,
)

PageSize = Annotated[
    int,
    typer.Option(
        "--page-size", min=1, max=MAX_LIMIT, help="Accounts read from Connect per page (one commit each)."
    ),
]


@reachability_app.command("sync")
def reachability_sync(page_size: PageSize = MAX_LIMIT, as_json: JsonOpt = False) -> None:
    """Read every Connect account's reachability into the directory. Snapshots older than what the directory
    has are skipped (pushed events are never undone); every synced phone is in sequence again."""
    from tgo.reachability.repository import counts
    from tgo.reachability.sync import SyncProgress, sync_directory

    async def op(rt: Runtime) -> dict[str, Any]:
        seen = SyncProgress()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True, disable=as_json) as progress:
            task = progress.add_task("Reading accounts from Connect", total=None)

            def on_page(p: SyncProgress) -> None:
                seen.read, seen.stored = p.read, p.stored
                progress.update(
                    task, completed=p.read, description=f"{p.read} accounts read, {p.stored} stored"
                )

            try:
                await sync_directory(rt, page_size, on_page)
            except ConnectError as exc:
                fail(
                    f"Connect did not answer ({type(exc).__name__}); {seen.read} accounts were synced before it "
                    "stopped, run the command again",
                    as_json,
                    "connect_unavailable",
                )
        async with rt.db.session_scope() as session:
            entries, catching_up = await counts(session)
        return {"read": seen.read, "stored": seen.stored, "entries": entries, "catching_up": catching_up}

    emit(
        run(as_json, op),
        as_json,
        lambda d: out.print(
            f"{d['read']} accounts read from Connect, {d['stored']} newer stored; the directory has "
            f"{d['entries']} phones, {d['catching_up']} catching up."
        ),
    )
