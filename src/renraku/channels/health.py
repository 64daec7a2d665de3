"""``renraku config show|check``: the effective settings with secrets masked, and a live check of
the database and every configured provider (reachability and credentials), each saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from renraku.channels.policies import ProviderError
from renraku.settings import Settings

MASK = "**********"


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Settings as JSON; SecretStr values and passwords in URLs (the database's, Redis's, any
    other) are masked."""
    data: dict[str, Any] = _mask_urls(settings.model_dump(mode="json"))
    for function in (data.get("functions") or {}).values():
        env = function.get("environment") or {}
        for key in env:
            if SECRET_NAME.search(key):
                env[key] = MASK
    return data


# Function environment variables whose names say they hold a secret are masked too.
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY", re.IGNORECASE)


def _mask_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_urls(v) for v in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        return mask_url(value)
    return value


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


class _Warning(Exception):
    """A check that passed with a caveat the user should act on."""


def _result(component: str, status: str, detail: str) -> dict[str, str]:
    return {"Component": component, "Status": status, "Detail": detail}


def _guard(component: str, probe: Callable[[], str]) -> dict[str, str]:
    try:
        return _result(component, "OK", probe())
    except Exception as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        return _result(component, "FAIL", str(reason))


def check_database(settings: Settings) -> dict[str, str]:
    from sqlalchemy import text

    from renraku.store import Store

    def probe() -> str:
        store = Store.open(settings.db, migrate_schema=False)
        try:
            with store.connect() as conn:
                conn.execute(text("select 1"))
            current = store.is_current()
        finally:
            store.close()
        where = mask_url(settings.db)
        return f"{where} answers" + ("" if current else " (migrations pending: run any command)")

    return _guard("database", probe)


def check_email(settings: Settings) -> dict[str, str]:
    email = settings.email
    if email.provider == "none":
        return _result("email", "SKIP", "no provider (email.provider = none)")
    if email.provider == "smtp":
        from renraku.channels.email_smtp import connect

        def smtp() -> str:
            client = connect(email.smtp)
            try:
                client.noop()
            finally:
                client.quit()
            login = f" as {email.smtp.username}" if email.smtp.username else ""
            return (
                f"SMTP {email.smtp.host}:{email.smtp.port} ({email.smtp.security}) accepts{login}"
            )

        return _guard("email (smtp)", smtp)
    from botocore.exceptions import ClientError

    from renraku.channels.email_ses import aws_client, client_error

    def ses() -> str:
        client = aws_client("sesv2", email.ses)
        try:
            client.list_email_identities(PageSize=100)
        except Exception as exc:
            raise client_error("SES", exc) from exc
        sender = parseaddr(email.from_address)[1]
        for identity in (sender, sender.rpartition("@")[2]):
            try:
                found = client.get_email_identity(EmailIdentity=identity)
            except ClientError:  # not an identity of this account: try the domain next
                found = None
            if found is None:
                continue
            if found.get("VerifiedForSendingStatus"):
                return f"SES in {email.ses.region}: sender {sender} is verified ({identity})"
            raise _Warning(
                f"SES in {email.ses.region}: identity {identity} exists but is not verified yet"
            )
        raise ProviderError(
            f"SES in {email.ses.region} accepts the credentials, but the sender {sender} is not an "
            "identity of this account (create and verify the address or its domain)",
            permanent=True,
        )

    try:
        return _result("email (ses)", "OK", ses())
    except _Warning as warning:
        return _result("email (ses)", "WARN", str(warning))
    except Exception as exc:
        return _result("email (ses)", "FAIL", str(getattr(exc, "reason", None) or exc))


def check_sms(settings: Settings) -> dict[str, str]:
    sms = settings.sms
    if sms.provider == "none":
        return _result("sms", "SKIP", "no provider (sms.provider = none)")
    if sms.provider == "twilio":
        from renraku.channels.sms_twilio import rest_error, twilio_client

        def twilio() -> str:
            from twilio.base.exceptions import TwilioRestException

            client = twilio_client(sms.twilio, timeout=10)
            try:
                account = client.api.v2010.accounts(sms.twilio.account_sid).fetch()
            except TwilioRestException as exc:
                raise rest_error(exc) from exc
            where = sms.twilio.base_url or "api.twilio.com"
            return f"Twilio at {where}: account {account.sid} is {account.status}"

        return _guard("sms (twilio)", twilio)
    from renraku.channels.email_ses import aws_client, client_error

    if sms.provider == "aws":

        def aws() -> str:
            client = aws_client("pinpoint-sms-voice-v2", sms.aws)
            try:
                client.describe_account_attributes()
            except Exception as exc:
                raise client_error("AWS SMS", exc) from exc
            return f"AWS End User Messaging SMS in {sms.aws.region} accepts the credentials"

        return _guard("sms (aws)", aws)

    def sns() -> str:
        client = aws_client("sns", sms.sns)
        try:
            client.get_sms_attributes()
        except Exception as exc:
            raise client_error("SNS", exc) from exc
        return f"SNS in {sms.sns.region} accepts the credentials"

    return _guard("sms (sns)", sns)


def check_functions(settings: Settings) -> list[dict[str, str]]:
    from renraku.functions.runtime import code_dir

    results = []
    for name, spec in sorted(settings.functions.items()):
        code = code_dir(spec, settings)
        module, _, func = spec.handler.rpartition(".")
        component = f"function {name}"
        if not module or not func:
            results.append(
                _result(component, "FAIL", f"handler {spec.handler!r} is not file.function")
            )
        elif code is None or not Path(code).is_dir():
            results.append(_result(component, "FAIL", f"code directory {code} does not exist"))
        elif not (Path(code) / (module.replace(".", "/") + ".py")).is_file():
            results.append(
                _result(component, "FAIL", f"{module.replace('.', '/')}.py not found in {code}")
            )
        else:
            results.append(_result(component, "OK", f"{spec.handler} in {code}"))
    return results


def check_webhooks(settings: Settings) -> dict[str, str]:
    parts = urlsplit(settings.webhooks.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _result(
            "public url", "FAIL", f"{settings.webhooks.public_url!r} is not an http(s) URL"
        )
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost"):
        return _result(
            "public url",
            "WARN",
            f"{settings.webhooks.public_url}: providers should reach renraku over https",
        )
    return _result("public url", "OK", settings.webhooks.public_url)


def check_all(settings: Settings) -> list[dict[str, str]]:
    """Every check, in a stable order."""
    return [
        check_database(settings),
        check_email(settings),
        check_sms(settings),
        check_webhooks(settings),
        *check_functions(settings),
    ]
