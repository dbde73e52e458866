"""The Mailer port over SMTP (smtplib): registration notices to admins and applicants.

STARTTLS verifies the server's certificate and host name (`ca_file`, else the system's trust
store); a password login in clear text to a remote server is refused at start-up.  `insecure`
lifts both, logged as an error.  Imports the standard library and core only.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from stratuslab.core.errors import InvalidInput, Unavailable

log = logging.getLogger("stratuslab.mail")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    sender: str = "stratuslab@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    ca_file: str | None = None  # PEM bundle for the server certificate; None: the system's
    insecure: bool = False  # no certificate check, or a password login in clear text


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class SmtpMailer:
    def __init__(self, config: SmtpConfig):
        self.config = config
        if config.username and not config.starttls and not _loopback(config.host):
            if not config.insecure:
                raise InvalidInput(
                    f"[mail] would send the SMTP password of {config.username} in clear text "
                    f"to {config.host}", hint="set [mail] starttls = true (insecure = true "
                    "accepts the risk; not recommended)")
        if config.insecure:
            log.error("INSECURE: [mail] insecure = true: the SMTP server %s is not verified "
                      "(or the login is in clear text)", config.host)

    def context(self) -> ssl.SSLContext:
        """Verifies the server certificate and host name unless `insecure`."""
        context = ssl.create_default_context(cafile=self.config.ca_file or None)
        if self.config.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        cfg = self.config
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=self.context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise Unavailable(
                f"mail to {to} ({subject!r}) could not be sent through "
                f"{cfg.host}:{cfg.port}: {exc}",
                hint="check the [mail] settings and that the SMTP server is reachable",
            ) from exc
