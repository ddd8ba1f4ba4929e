"""How messages leave notify: e-mail over SMTP, SMS through a provider, and their rate limits.

A channel raises ``Bounce`` when the recipient is refused for good (an SMTP 5xx on the recipient:
recorded, never retried) and any other exception for a failure worth retrying (a 4xx, the relay
unreachable).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

from kolot.notify.settings import NotifySettings

log = logging.getLogger(__name__)


class Bounce(Exception):
    """The provider refused the recipient permanently."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmsProvider(Protocol):
    async def send(self, to: str, text: str) -> None: ...


class SmtpMailer:
    """Sends through an SMTP relay with the standard library, in a thread (smtplib blocks).

    One connection per message keeps it simple and robust against relays that drop idle
    connections; the rate limiter, not connection reuse, is what bounds the load on the relay.
    """

    def __init__(self, settings: NotifySettings) -> None:
        assert settings.smtp_host is not None
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._username = settings.smtp_username
        self._password = (
            settings.smtp_password.get_secret_value() if settings.smtp_password else None
        )
        self._starttls = settings.smtp_starttls
        self._timeout = settings.smtp_timeout

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self._starttls and smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise Bounce(f"recipient refused: {codes[0]}") from exc
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500 and isinstance(exc, smtplib.SMTPDataError):
                raise Bounce(f"message refused: {exc.smtp_code}") from exc
            raise


class LoggingMailer:
    """Development: logs that a message would be sent (its subject, never the address)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        log.info("e-mail not sent (no KOLOT_SMTP_HOST): %s", message["Subject"])


class LoggingSmsProvider:
    """Development: logs the SMS (its length, never the number); a real provider replaces it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, text: str) -> None:
        self.sent.append((to, text))
        log.info("SMS not sent (logging provider): %d characters", len(text))


def create_mailer(settings: NotifySettings) -> Mailer:
    return SmtpMailer(settings) if settings.smtp_host else LoggingMailer()


def create_sms_provider(settings: NotifySettings) -> SmsProvider:
    return LoggingSmsProvider()


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second on average, bursts of ``burst``.

    Providers limit their clients (an SMTP relay's messages per second, an SMS gateway's); going
    over gets messages deferred or the account throttled.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self._burst
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now

    async def acquire(self) -> None:
        async with self._lock:  # waiters are served in order
            self._refill()
            while self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self._rate)
                self._refill()
            self._tokens -= 1.0
