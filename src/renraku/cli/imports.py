"""``renraku import`` and ``renraku imports``: bring endpoints in from CSV or JSON, inspect jobs."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, err_console, state
from renraku.errors import InvalidInput, Problem
from renraku.importing.failures import Failure, write_failures_csv
from renraku.services import imports as import_service

group = typer.Typer(
    help="Import jobs: list them, show one, export its failures.", no_args_is_help=True
)


def _write_errors(path: Path, failures: Iterator[Failure]) -> int:
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_failures_csv(out, failures)
    except OSError as exc:
        raise InvalidInput(
            [Problem(str(path), f"cannot write: {exc.strerror}")], subject="--errors-out"
        ) from exc


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[import_service.ProgressFn | None]:
    """A rich progress bar with rows/s while the import runs (only on a terminal)."""
    if not enabled:
        yield None
        return
    started = time.monotonic()
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:>10,} rows  {task.fields[rate]:>9,.0f} rows/s"),
        TextColumn("[red]{task.fields[failed]:,} failed"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
    task = bar.add_task("importing", total=None, rows=0, rate=0.0, failed=0)

    def report(p: import_service.Progress) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        name = Path(p.piece).name or p.piece
        label = f"{name} ({p.piece_index + 1}/{p.pieces})" if p.pieces > 1 else name
        bar.update(
            task,
            description=label,
            completed=p.bytes_done,
            total=p.bytes_total,
            rows=p.processed,
            rate=p.processed / elapsed,
            failed=p.failures,
        )

    with bar:
        yield report


def _segment_counts(st: Any, app_id: str, job: dict[str, Any]) -> dict[str, int]:
    segment_id = job.get("Definition", {}).get("SegmentId")
    if not segment_id:
        return {}
    segment = import_service.imported_segment(st.app, app_id, segment_id)
    counts = segment.get("ImportDefinition", {}).get("ChannelCounts") or {}
    return {str(k): int(v) for k, v in counts.items()}


def render_job(job: dict[str, Any], counts: dict[str, int], seconds: float | None = None) -> None:
    """A job as a short table: status, rows, failures, the segment's endpoints per channel."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Job", f"{job['Id']} ({job['JobStatus']})")
    definition = job.get("Definition", {})
    table.add_row("Source", str(definition.get("S3Url")))
    table.add_row("Rows processed", f"{job['TotalProcessed']:,}")
    table.add_row("Rows rejected", f"{job['TotalFailures']:,}")
    if seconds:
        table.add_row("Rate", f"{job['TotalProcessed'] / seconds:,.0f} rows/s ({seconds:.2f} s)")
    if definition.get("SegmentName"):
        table.add_row("Segment", f"{definition['SegmentName']} ({definition.get('SegmentId')})")
    for channel, n in sorted(counts.items()):
        table.add_row(f"  {channel}", f"{n:,}")
    console.print(table)
    failures = job.get("Failures") or []
    if failures:
        console.print(f"[bold red]Failures[/] (first {min(len(failures), 20)}):")
        for line in failures[:20]:
            console.print(f"  {line}", markup=False, highlight=False)


def import_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(help="A CSV/NDJSON file or folder, a file:// URL, or s3://bucket/prefix."),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or json (default: by file extension, else csv)."),
    ] = None,
    segment_name: Annotated[
        str | None,
        typer.Option("--segment-name", help="Imported segment to define (default: the file name)."),
    ] = None,
    no_segment: Annotated[
        bool, typer.Option("--no-segment", help="Import endpoints without defining a segment.")
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding", help="utf-8, utf-8-sig, cp932 (Shift_JIS) ... (default: detect)."
        ),
    ] = None,
    default_region: Annotated[
        str | None,
        typer.Option("--default-region", help="Region for national phone numbers, e.g. JP."),
    ] = None,
    errors_out: Annotated[
        Path | None,
        typer.Option("--errors-out", help="Write every rejected row to this CSV file."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, max=100_000, help="Rows per transaction.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import endpoints from Pinpoint-format CSV or newline-delimited JSON.

    Bad rows are rejected with file, line, column, value and reason; every good row is imported.
    Running the same import again resumes an interrupted one; importing a file twice changes nothing.
    """
    st = state(ctx)
    app_id = st.app_id()
    options = import_service.ImportOptions(
        source=source,
        format=fmt,
        segment_name=segment_name,
        define_segment=not no_segment,
        encoding=encoding,
        default_region=default_region,
        batch_size=batch_size,
    )
    show_bar = not json_out and sys.stderr.isatty()
    started = time.monotonic()
    try:
        with _progress_bar(show_bar) as report:
            job = import_service.run_import(st.app, app_id, options, progress=report)
    except KeyboardInterrupt:
        err_console.print(
            "[yellow]interrupted[/]: every batch written so far is complete; "
            "run the same command again to finish the import."
        )
        raise typer.Exit(130) from None
    seconds = time.monotonic() - started
    if errors_out is not None:
        _write_errors(errors_out, import_service.job_failures(st.app, app_id, job["Id"]))
    counts = _segment_counts(st, app_id, job)
    emit(job, json_out, lambda: render_job(job, counts, seconds))


@group.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="How many jobs (newest first).")
    ] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List import jobs, newest first (Pinpoint's GetImportJobs: {"Item": [...]})."""
    st = state(ctx)
    jobs = import_service.list_jobs(st.app, st.app_id(), limit=limit)

    def render() -> None:
        table = Table("Id", "Status", "Created", "Processed", "Failed", "Segment", "Source")
        for job in jobs:
            definition = job["Definition"]
            table.add_row(
                job["Id"],
                job["JobStatus"],
                job["CreationDate"],
                f"{job['TotalProcessed']:,}",
                f"{job['TotalFailures']:,}",
                str(definition.get("SegmentName") or ""),
                str(definition.get("S3Url") or ""),
            )
        console.print(table)

    emit({"Item": jobs}, json_out, render)


@group.command("show")
def show_command(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Import job id.")],
    errors_out: Annotated[
        Path | None,
        typer.Option("--errors-out", help="Write every failure of the job to this CSV file."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one import job (Pinpoint's ImportJobResponse)."""
    st = state(ctx)
    app_id = st.app_id()
    job = import_service.get_job(st.app, app_id, job_id)
    if errors_out is not None:
        _write_errors(errors_out, import_service.job_failures(st.app, app_id, job_id))
    counts = _segment_counts(st, app_id, job)
    emit(job, json_out, lambda: render_job(job, counts))
