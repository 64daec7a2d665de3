"""Imports: upload a CSV, watch its progress, read the failure report and download it as CSV."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from renraku.errors import InvalidInput, NotFound, Problem
from renraku.importing.failures import Failure, write_failures_csv
from renraku.services import imports as import_service
from renraku.web.site import PREFIX, SECURITY_HEADERS, Dashboard, page_errors, redirect
from renraku.web.uploads import Uploads

FAILURE_ROWS = 500


def shown(failures: Iterable[Failure]) -> Iterator[Failure]:
    """Failures with the file named as the user knows it (not the server's upload folder)."""
    for f in failures:
        yield replace(f, source=PurePath(f.source.removeprefix("file://")).name or f.source)


def failures_page(dash: Dashboard, app_id: str, job_id: str) -> list[Failure]:
    out: list[Failure] = []
    for f in shown(import_service.job_failures(dash.app, app_id, job_id)):
        out.append(f)
        if len(out) >= FAILURE_ROWS:
            break
    return out


def register(router: APIRouter, dash: Dashboard, uploads: Uploads) -> None:
    @router.get("/imports")
    @page_errors(dash)
    async def imports(request: Request) -> Response:
        ctx = await dash.ctx(request)
        jobs = (
            await run_in_threadpool(import_service.list_jobs, dash.app, ctx.app_id, limit=50)
            if ctx.app_id
            else []
        )
        return dash.render("imports.html", request, ctx, nav="imports", jobs=jobs)

    @router.post("/imports")
    @page_errors(dash)
    async def upload(request: Request) -> Response:
        ctx = await dash.ctx(request)
        form = await dash.form(request, ctx)
        try:
            app_id = ctx.need_app()
            file = form.get("file")
            if not isinstance(file, UploadFile) or not file.filename:
                raise InvalidInput([Problem("file", "choose a CSV file")], subject="upload")
            segment = form.get("segment")
            name = segment.strip() if isinstance(segment, str) and segment.strip() else None
            saved = await run_in_threadpool(uploads.save, app_id, file.filename, file.file)
        finally:
            await form.close()
        uploads.start(saved, segment_name=name)
        return redirect(f"{PREFIX}/imports/uploads/{saved.id}")

    def _upload_view(upload_id: str, app_id: str) -> dict[str, Any]:
        found = uploads.get(upload_id)
        if found is None or found.app_id != app_id:
            raise NotFound("upload", upload_id)
        p = found.progress
        percent = None
        if p.bytes_total:
            percent = min(100.0, 100.0 * p.bytes_done / p.bytes_total)
        return {"upload": found, "percent": 100.0 if found.done else percent}

    @router.get("/imports/uploads/{upload_id}")
    @page_errors(dash)
    async def upload_page(request: Request, upload_id: str) -> Response:
        ctx = await dash.ctx(request)
        try:
            view = _upload_view(upload_id, ctx.need_app())
        except NotFound:
            # Another server process took the upload: its job shows in the list.
            return redirect(f"{PREFIX}/imports", "That upload's progress is kept by another "
                            "server process; its import job is listed below.")  # fmt: skip
        if view["upload"].job is not None:
            return redirect(f"{PREFIX}/imports/{view['upload'].job['Id']}")
        return dash.render("upload.html", request, ctx, nav="imports", **view)

    @router.get("/imports/uploads/{upload_id}/status")
    @page_errors(dash)
    async def upload_status(request: Request, upload_id: str) -> Response:
        ctx = await dash.ctx(request)
        view = _upload_view(upload_id, ctx.need_app())
        return dash.render("_upload_status.html", request, ctx, **view)

    @router.get("/imports/{job_id}")
    @page_errors(dash)
    async def job(request: Request, job_id: str) -> Response:
        ctx = await dash.ctx(request)
        app_id = ctx.need_app()
        found = await run_in_threadpool(import_service.get_job, dash.app, app_id, job_id)
        failures = await run_in_threadpool(failures_page, dash, app_id, job_id)
        return dash.render(
            "import_job.html",
            request,
            ctx,
            nav="imports",
            job=found,
            failures=failures,
            shown_limit=FAILURE_ROWS,
        )

    @router.get("/imports/{job_id}/failures.csv")
    @page_errors(dash)
    async def failures_csv(request: Request, job_id: str) -> Response:
        ctx = await dash.ctx(request)
        app_id = ctx.need_app()
        await run_in_threadpool(import_service.get_job, dash.app, app_id, job_id)

        def rows() -> Iterator[bytes]:
            buf = io.StringIO()
            write_failures_csv(buf, shown(import_service.job_failures(dash.app, app_id, job_id)))
            yield buf.getvalue().encode("utf-8")

        headers = dict(SECURITY_HEADERS)
        headers["Content-Disposition"] = f'attachment; filename="import-{job_id}-failures.csv"'
        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)
