"""Native routes for imports: from a source URL, from an uploaded file, job progress and failures."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from renraku.api.native.deps import AppDep, Json, PrincipalDep, owned_app
from renraku.api.native.models import Strict
from renraku.api.sources import allowed_source
from renraku.errors import InvalidInput, Problem
from renraku.services import imports as import_service

router = APIRouter(prefix="/api/v1/apps/{app_id}/imports", tags=["imports"])


class ImportRequest(Strict):
    """Import endpoints from ``s3://bucket/prefix`` or an allowed ``file://`` URL."""

    Source: str = Field(min_length=1, max_length=2048)
    Format: Literal["CSV", "JSON"] | None = None
    SegmentName: str | None = Field(default=None, max_length=256)
    DefineSegment: bool = True
    Encoding: str | None = Field(default=None, max_length=32)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Import from a source URL; answers with the finished job",
)
def create_import(app: AppDep, principal: PrincipalDep, app_id: str, body: ImportRequest) -> Json:
    owned_app(app, principal, app_id)
    source = allowed_source(app.settings, body.Source, field="body.Source")
    options = import_service.ImportOptions(
        source=source,
        format=body.Format,
        segment_name=body.SegmentName,
        define_segment=body.DefineSegment,
        encoding=body.Encoding,
    )
    return import_service.run_import(app, app_id, options)


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    summary="Import the request body (a CSV or JSON-lines file); answers with the finished job",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def upload_import(
    request: Request,
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    name: Annotated[
        str, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    ] = "upload.csv",
    file_format: Annotated[Literal["CSV", "JSON"] | None, Query(alias="format")] = None,
    define_segment: bool = True,
) -> Json:
    await run_in_threadpool(owned_app, app, principal, app_id)
    with tempfile.TemporaryDirectory(prefix="renraku-upload-") as folder:
        path = Path(folder) / name
        size = 0
        # Streamed to disk: lists can be large (server.max_upload_bytes bounds them).
        with path.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
                size += len(chunk)
        if size == 0:
            raise InvalidInput([Problem("body", "the uploaded file is empty")], subject="import")
        options = import_service.ImportOptions(
            source=str(path),
            format=file_format,
            segment_name=name,
            define_segment=define_segment,
        )
        return await run_in_threadpool(import_service.run_import, app, app_id, options)


@router.get("", summary="Import jobs, newest first")
def list_imports(app: AppDep, principal: PrincipalDep, app_id: str) -> Json:
    owned_app(app, principal, app_id)
    return {"Item": import_service.list_jobs(app, app_id, limit=1000)}


@router.get("/{job_id}", summary="One import job: status, counts and the first failures")
def get_import(app: AppDep, principal: PrincipalDep, app_id: str, job_id: str) -> Json:
    owned_app(app, principal, app_id)
    return import_service.get_job(app, app_id, job_id)


@router.get("/{job_id}/failures", summary="Every rejected row of a job, with where and why")
def import_failures(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    job_id: str,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> Json:
    owned_app(app, principal, app_id)
    items: list[Json] = []
    for failure in import_service.job_failures(app, app_id, job_id):
        if len(items) >= limit:
            break
        items.append({"Failure": str(failure)})
    return {"Item": items}
