"""Log in to IMAP, POP3 and SMTP submission with SASL XOAUTH2, concurrently, with a timeout on every network step.

TLS is always verified (the system's CAs, or only `--ca-file`), and SMTP sends AUTH only after STARTTLS. Each check
connects, completes TLS and reads the greeting first, then asks for the token, so connecting overlaps with msal's
token request. Each check records a transcript for `--verbose` in which the token and the XOAUTH2 string never
appear.
"""

from __future__ import annotations

import base64
import imaplib
import poplib
import smtplib
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from .clouds import Endpoint
from .secret import Secret

NO_TOKEN = "not checked: there is no token"
MAX_REPLY = 300
MAX_LINE = 8192


@dataclass(frozen=True)
class CheckResult:
    """What happened when one protocol logged in."""

    protocol: str
    endpoint: Endpoint
    ok: bool
    stage: str
    """Where it ended: `connect`, `tls`, `auth`, `mailbox` (SELECT/STAT), `send`, or `done` when it passed."""
    reply: str
    """The last server reply (or network error) as text, token removed."""
    detail: str = ""
    """What passed, for example `EXAMINE INBOX: 3 messages`."""
    network: bool = False
    """True when the server could not be reached or did not answer in time."""
    transcript: tuple[str, ...] = ()


class _Transcript:
    """Client and server lines of one session, with the credential scrubbed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.secrets: tuple[Secret, ...] = ()

    def clean(self, text: str | bytes) -> str:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        for secret in self.secrets:
            text = secret.scrub(text)
        return "".join(c if c.isprintable() else " " for c in text).strip()[:MAX_REPLY]

    def client(self, text: str) -> None:
        self.lines.append(f"C: {text}")

    def server(self, text: str | bytes, prefix: str = "S") -> str:
        cleaned = self.clean(text)
        self.lines.append(f"{prefix}: {cleaned}")
        return cleaned


def xoauth2(mailbox: str, token: Secret) -> Secret:
    """Return the SASL XOAUTH2 initial response (before base64), as Microsoft documents it."""
    return Secret(f"user={mailbox}\x01auth=Bearer {token.reveal()}\x01\x01")


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Return a verifying TLS client context: the system's CAs, or only those in `ca_file`; TLS 1.2 or newer."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class Login:
    """What every check needs."""

    mailbox: str
    token: Callable[[], Secret | None]
    """Returns the access token once msal has it (blocking until then), or None when there is none."""
    context: ssl.SSLContext
    timeout: float
    send_test_to: str | None = None


class _Session:
    """Tracks the stage and transcript of one check and turns exceptions into a CheckResult."""

    def __init__(self, protocol: str, endpoint: Endpoint, login: Login) -> None:
        self.protocol, self.endpoint, self.login = protocol, endpoint, login
        self.stage = "connect"
        self.sasl = Secret("")
        self.log = _Transcript()

    def authorize(self) -> bool:
        """Wait for the token and prepare the XOAUTH2 string; return False when there is no token."""
        self.stage = "auth"
        token = self.login.token()
        if token is None:
            return False
        self.sasl = xoauth2(self.login.mailbox, token)
        self.log.secrets = (token, self.sasl)
        return True

    def result(self, ok: bool, reply: str, detail: str = "", network: bool = False) -> CheckResult:
        return CheckResult(self.protocol, self.endpoint, ok, "done" if ok else self.stage, reply, detail, network,
                           tuple(self.log.lines))

    def failed(self, error: BaseException) -> CheckResult:
        network = isinstance(error, TimeoutError) or (self.stage == "connect" and isinstance(error, OSError)
                                                      and not isinstance(error, ssl.SSLError))
        if isinstance(error, ssl.SSLError):
            self.stage = "tls"
        if isinstance(error, TimeoutError):
            reply = f"no answer within the timeout ({self.stage})"
        elif isinstance(error, smtplib.SMTPResponseException):
            reply = f"{error.smtp_code} {self.log.clean(error.smtp_error)}"
        else:
            reply = str(error)
        server_said = isinstance(error, (smtplib.SMTPResponseException, imaplib.IMAP4.error, poplib.error_proto))
        return self.result(False, self.log.server(reply, "S" if server_said else "!"), network=network)

    def responder(self) -> Callable[[bytes], bytes]:
        """Return a SASL callback: the XOAUTH2 string first, then an empty response to an error challenge."""

        def respond(challenge: bytes) -> bytes:
            if challenge:
                self.log.server(f"+ {challenge.decode('utf-8', errors='replace')}")
                self.log.client("(empty response to the error challenge)")
                return b""
            self.log.client("[XOAUTH2 credentials hidden]")
            return self.sasl.reveal().encode()

        return respond


def _imap_text(data: object) -> bytes:
    """Join imaplib's response data (a list of bytes, sometimes with None or tuples) into one line."""
    items = data if isinstance(data, list) else [data]
    return b" ".join(item if isinstance(item, bytes) else str(item).encode() for item in items if item is not None)


def check_imap(endpoint: Endpoint, login: Login) -> CheckResult:
    """IMAP over TLS: AUTHENTICATE XOAUTH2, then a read-only SELECT of INBOX (EXAMINE)."""
    session = _Session("imap", endpoint, login)
    try:
        with imaplib.IMAP4_SSL(endpoint.host, endpoint.port, ssl_context=login.context,
                               timeout=login.timeout) as imap:
            session.log.server(imap.welcome)
            if not session.authorize():
                return session.result(False, NO_TOKEN)
            session.log.client("AUTHENTICATE XOAUTH2")
            session.log.server(_imap_text(imap.authenticate("XOAUTH2", session.responder())[1]))
            session.stage = "mailbox"
            session.log.client("EXAMINE INBOX")
            status, data = imap.select("INBOX", readonly=True)
            reply = session.log.server(_imap_text(data))
            if status != "OK":
                return session.result(False, f"{status} {reply}")
            return session.result(True, reply, f"AUTHENTICATE XOAUTH2, EXAMINE INBOX: {reply} messages")
    except (imaplib.IMAP4.error, OSError) as error:
        return session.failed(error)


class _POP3(poplib.POP3_SSL):
    """poplib has no AUTH command; this sends one line and reads the one-line answer on the same connection."""

    def line(self, text: str) -> bytes:
        self.sock.sendall(text.encode("ascii") + b"\r\n")
        return self.file.readline(MAX_LINE).rstrip(b"\r\n")


def check_pop(endpoint: Endpoint, login: Login) -> CheckResult:
    """POP3 over TLS: AUTH XOAUTH2, then STAT."""
    session = _Session("pop", endpoint, login)
    try:
        pop = _POP3(endpoint.host, endpoint.port, timeout=login.timeout, context=login.context)
        try:
            session.log.server(pop.welcome)
            if not session.authorize():
                return session.result(False, NO_TOKEN)
            session.log.client("AUTH XOAUTH2")
            reply = session.log.server(pop.line("AUTH XOAUTH2"))
            if reply.startswith("+") and not reply.startswith("+OK"):
                session.log.client("[XOAUTH2 credentials hidden]")
                reply = session.log.server(pop.line(base64.b64encode(session.sasl.reveal().encode()).decode()))
                if reply.startswith("+ "):
                    session.log.client("(empty response to the error challenge)")
                    reply = session.log.server(pop.line(""))
            if not reply.startswith("+OK"):
                return session.result(False, reply)
            session.stage = "mailbox"
            session.log.client("STAT")
            count, size = pop.stat()
            session.log.server(f"+OK {count} {size}")
            return session.result(True, f"+OK {count} {size}", f"AUTH XOAUTH2, STAT: {count} messages")
        finally:
            pop.close()
    except (poplib.error_proto, OSError) as error:
        return session.failed(error)


def _test_message(sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, recipient
    message["Subject"] = "exo-oauth verify: SMTP AUTH with OAuth works"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(f"exo-oauth verify sent this message to prove that {sender} can send with SMTP AUTH "
                        "XOAUTH2. No action is needed.\n")
    return message


def _smtp_text(reply: tuple[int, bytes]) -> str:
    """Return an smtplib (code, message) reply as one line."""
    return f"{reply[0]} " + reply[1].decode("utf-8", errors="replace").replace("\n", " ")


def check_smtp(endpoint: Endpoint, login: Login) -> CheckResult:
    """SMTP submission: EHLO, STARTTLS (required), EHLO, AUTH XOAUTH2; with `send_test_to`, one test message."""
    session = _Session("smtp", endpoint, login)
    try:
        with smtplib.SMTP(endpoint.host, endpoint.port, timeout=login.timeout) as smtp:
            session.log.client("EHLO")
            session.log.server(_smtp_text(smtp.ehlo()))
            session.stage = "tls"
            if not smtp.has_extn("starttls"):
                return session.result(False, "the server did not offer STARTTLS, so the token was not sent")
            session.log.client("STARTTLS")
            session.log.server(_smtp_text(smtp.starttls(context=login.context)))
            smtp.ehlo()
            if not session.authorize():
                return session.result(False, NO_TOKEN)
            session.log.client("AUTH XOAUTH2")
            code, text = smtp.auth("XOAUTH2", lambda challenge=None: session.responder()(challenge or b"").decode(),
                                   initial_response_ok=False)
            reply = session.log.server(_smtp_text((code, text)))
            if login.send_test_to is None:
                return session.result(True, reply, "EHLO, STARTTLS, AUTH XOAUTH2")
            session.stage = "send"
            session.log.client(f"MAIL FROM:<{login.mailbox}> RCPT TO:<{login.send_test_to}> DATA")
            smtp.send_message(_test_message(login.mailbox, login.send_test_to), login.mailbox, [login.send_test_to])
            session.log.server("250 accepted")
            return session.result(True, reply, f"EHLO, STARTTLS, AUTH XOAUTH2, test message to {login.send_test_to}")
    except (smtplib.SMTPException, OSError) as error:
        return session.failed(error)


CHECKS: Mapping[str, Callable[[Endpoint, Login], CheckResult]] = {
    "imap": check_imap, "pop": check_pop, "smtp": check_smtp,
}


def run_checks(endpoints: Mapping[str, Endpoint], login: Login) -> list[CheckResult]:
    """Run every protocol's check at the same time; return the results in the order of `endpoints`."""
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints)), thread_name_prefix="verify") as pool:
        futures = [pool.submit(CHECKS[protocol], endpoint, login) for protocol, endpoint in endpoints.items()]
        return [future.result() for future in futures]
