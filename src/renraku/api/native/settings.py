"""Native routes for the server's settings (administrator keys only): the effective settings with
secrets masked, and a check of the database and every configured provider."""

from __future__ import annotations

from fastapi import APIRouter

from renraku.api.native.deps import AppDep, Json, PrincipalDep

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


@router.get("", summary="The effective settings, secrets masked")
def show_settings(app: AppDep, principal: PrincipalDep) -> Json:
    from renraku.channels.health import effective_settings

    principal.require_admin("read the server's settings")
    return effective_settings(app.settings)


@router.get("/check", summary="Test the database and each configured provider")
def check_settings(app: AppDep, principal: PrincipalDep) -> Json:
    from renraku.channels.health import check_all

    principal.require_admin("check the server's providers")
    results = check_all(app.settings)
    return {"Ok": all(r["Status"] != "FAIL" for r in results), "Checks": results}
