"""Pinpoint import jobs: CreateImportJob (s3:// or an allowed file:// URL), GetImportJob(s).

CreateImportJob runs the import before it answers, so the response already carries the final
counts and status (Pinpoint answers at once and imports in the background; clients that poll
GetImportJob see the same end state either way).
"""

from __future__ import annotations

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.api.aws.pinpoint.paging import paginate, with_next
from renraku.api.sources import allowed_source
from renraku.services import imports as import_service

FIELD = "ImportJobRequest.S3Url"
# renraku reads sources with its own credentials; Pinpoint's shape still requires a RoleArn.
UNUSED_ROLE = "arn:aws:iam::000000000000:role/renraku-import-unused"


def _job(job: Payload, role_arn: str | None = None) -> Payload:
    definition = dict(job.get("Definition") or {})
    if not definition.get("RoleArn"):
        definition["RoleArn"] = role_arn or UNUSED_ROLE
    return {**job, "Definition": definition}


@operation("CreateImportJob")
def create_import_job(call: Call) -> Payload:
    request = call.body("ImportJobRequest")
    source = allowed_source(call.app.settings, str(request["S3Url"]), field=FIELD)
    options = import_service.ImportOptions(
        source=source,
        format=str(request["Format"]),
        segment_name=request.get("SegmentName"),
        define_segment=bool(request.get("DefineSegment", False)),
    )
    job = import_service.run_import(call.app, call.app_id, options)
    return _job(job, request.get("RoleArn"))


@operation("GetImportJob")
def get_import_job(call: Call) -> Payload:
    return _job(import_service.get_job(call.app, call.app_id, str(call.params["JobId"])))


@operation("GetImportJobs")
def get_import_jobs(call: Call) -> Payload:
    jobs = [_job(j) for j in import_service.list_jobs(call.app, call.app_id, limit=10_000)]
    page, token = paginate(jobs, call.params.get("PageSize"), call.params.get("Token"))
    return with_next({"Item": page}, token)
