"""Email through an SMTP relay (``smtplib``): plain, STARTTLS or implicit TLS, optional login.

One connection serves a whole batch. SMTP replies map to outcomes: 5xx on a recipient is a
permanent failure and a bounce (the address is suppressed); 4xx and lost connections are
transient (retried); an authentication failure is permanent and says to check the settings.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl

from renraku.channels import email_message
from renraku.channels.config import EmailSettings, SmtpSettings
from renraku.channels.pipeline import Outgoing, Sent
from renraku.channels.policies import ProviderError


def _tls_context(cfg: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not cfg.verify_certificates:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(cfg: SmtpSettings) -> smtplib.SMTP:
    """An open, authenticated SMTP session; ProviderError when that is impossible."""
    try:
        client: smtplib.SMTP
        if cfg.security == "tls":
            client = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=_tls_context(cfg)
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
        client.ehlo()
        if cfg.security == "starttls":
            client.starttls(context=_tls_context(cfg))
            client.ehlo()
        if cfg.username:
            password = cfg.password.get_secret_value() if cfg.password else ""
            client.login(cfg.username, password)
    except smtplib.SMTPAuthenticationError as exc:
        raise ProviderError(
            f"SMTP login as {cfg.username!r} refused ({exc.smtp_code}); check email.smtp.username "
            "and password",
            permanent=True,
            code=str(exc.smtp_code),
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise ProviderError(f"SMTP server at {cfg.host}:{cfg.port}: {exc}", permanent=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise ProviderError(
            f"cannot reach SMTP server {cfg.host}:{cfg.port}: {exc}", permanent=False
        ) from exc
    return client


class SmtpTransport:
    """The SMTP provider of the EMAIL channel."""

    provider = "smtp"
    channel = "EMAIL"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    def transmit(self, item: Outgoing) -> Sent:
        msg = email_message.build(
            item, self.settings.from_address, unsubscribe_mailto=self.settings.unsubscribe_mailto
        )
        if self._client is None:
            self._client = connect(self.settings.smtp)
        try:
            refused = self._client.send_message(
                msg, from_addr=email_message.sender_address(msg), to_addrs=[item.endpoint.address]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _reply_error("recipient refused", code, text) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _reply_error(
                "sender refused", exc.smtp_code, exc.smtp_error, bounce=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _reply_error(
                "message refused", exc.smtp_code, exc.smtp_error, bounce=False
            ) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise ProviderError(f"SMTP connection lost: {exc}", permanent=False) from exc
        if refused:
            code, text = next(iter(refused.values()))
            raise _reply_error("recipient refused", code, text)
        return Sent(message_id=str(msg["Message-ID"]), data={"SmtpReply": "250"})

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._client.quit()
            self._drop()


def _reply_error(what: str, code: int, text: bytes | str, *, bounce: bool = True) -> ProviderError:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    permanent = 500 <= code < 600
    return ProviderError(
        f"SMTP {what}: {code} {message}",
        permanent=permanent,
        code=str(code),
        bounce=bounce and permanent,
    )
