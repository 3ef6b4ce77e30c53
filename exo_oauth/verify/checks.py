"""Log in to IMAP, POP3 and SMTP submission with SASL XOAUTH2, concurrently, with a deadline on every network step.

Every step (connect and greeting, TLS, AUTH, SELECT/STAT, send) must finish within `--timeout` and before the run's
deadline, however the server dribbles its bytes: a watchdog shuts the socket down when the step's time is up. Replies
are capped (MAX_LINES lines per session, MAX_LINE bytes per line, MAX_LITERAL bytes per IMAP literal), and any reply
the protocol libraries cannot read ends the check with a named cause instead of a traceback.

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
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from ..signin.secret import Secret
from ..util.text import printable
from .clouds import SECURITY, Endpoint

NO_TOKEN = "not checked: there is no token"
MAX_REPLY = 300
MAX_LINE = 8192
"""Longest server line read, in bytes (RFC 5321 allows 512 for SMTP replies; IMAP capability lines are < 2 KB)."""
MAX_LINES = 1000
"""Most lines one session reads; a login and EXAMINE INBOX take a few dozen."""
SMTP_READY = 220
MAX_LITERAL = 1 << 20
"""Largest IMAP literal read, in bytes; none is needed to log in and examine INBOX."""


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
    cause: str = ""
    """`stalled` (a step ran out of time), `bad-reply` (a reply too long, too many lines, or unreadable), or ""."""


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
        return printable(text).strip()[:MAX_REPLY]

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
    deadline: float = float("inf")
    """The whole run's deadline (time.monotonic()); no step outlasts it."""


class _Guard:
    """Bounds one session: a deadline per step (never past the run's), and caps on lines, line length, literals.

    When a step's time is up the watchdog shuts the session's sockets down, which ends any blocked read at once,
    whether the server is silent, slow (a byte a second) or endless; `expired` then names the step.
    """

    def __init__(self, timeout: float, deadline: float) -> None:
        self.timeout, self.deadline = timeout, deadline
        self.sockets: list[socket.socket] = []
        self.expired = ""
        self.exceeded = ""
        """What cap the server broke, if one."""
        self.lines = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._generation = 0
        """Counts steps and pauses: a timer expires only the step it was started for."""

    def step(self, name: str) -> None:
        """Start step `name`: it has `timeout` seconds, or what is left of the run, whichever is less."""
        self.pause()
        generation = self._generation
        seconds = max(0.0, min(self.timeout, self.deadline - time.monotonic()))
        self._timer = threading.Timer(seconds, self._expire, (name, generation))
        self._timer.daemon = True
        self._timer.start()

    def pause(self) -> None:
        """Stop the clock (while the check waits for the token, which has its own deadline)."""
        with self._lock:
            self._generation += 1
        if self._timer is not None:
            self._timer.cancel()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            expired = bool(self.expired)
        if expired:
            self._shutdown(sock)

    def _expire(self, name: str, generation: int) -> None:
        # cancel() cannot stop a timer that already fired: one that fired as its step ended must not end the next.
        with self._lock:
            if generation != self._generation:
                return
            self.expired = name
            sockets = list(self.sockets)
        for sock in sockets:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def exceed(self, what: str) -> OSError:
        self.exceeded = what
        return OSError(what)


class _Limited:
    """A socket file for the protocol libraries that counts lines and refuses long lines and large literals."""

    def __init__(self, file: Any, guard: _Guard) -> None:
        self._file, self._guard = file, guard

    def readline(self, size: int = -1) -> bytes:
        self._guard.lines += 1
        if self._guard.lines > MAX_LINES:
            raise self._guard.exceed(f"the server sent more than {MAX_LINES} lines")
        line: bytes = self._file.readline(MAX_LINE + 1 if size < 0 else min(size, MAX_LINE + 1))
        if len(line) > MAX_LINE:
            raise self._guard.exceed(f"the server sent a line longer than {MAX_LINE} bytes")
        return line

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > MAX_LITERAL:
            raise self._guard.exceed(f"the server announced a literal of {size} bytes; at most {MAX_LITERAL} are read")
        data: bytes = self._file.read(size)
        return data

    def close(self) -> None:
        self._file.close()


class _Session:
    """Tracks the stage and transcript of one check and turns exceptions into a CheckResult."""

    def __init__(self, protocol: str, endpoint: Endpoint, login: Login) -> None:
        self.protocol, self.endpoint, self.login = protocol, endpoint, login
        self.guard = _Guard(login.timeout, login.deadline)
        self.stage = "connect"
        self.guard.step(self.stage)
        self.sasl = Secret("")
        self.log = _Transcript()

    def enter(self, stage: str) -> None:
        """Begin `stage`, with its own deadline."""
        self.stage = stage
        self.guard.step(stage)

    def authorize(self) -> bool:
        """Wait for the token and prepare the XOAUTH2 string; return False when there is no token."""
        self.stage = "auth"
        self.guard.pause()
        token = self.login.token()
        if token is None:
            return False
        self.guard.step("auth")
        self.sasl = xoauth2(self.login.mailbox, token)
        self.log.secrets = (token, self.sasl)
        return True

    def result(self, ok: bool, reply: str, detail: str = "", network: bool = False, cause: str = "") -> CheckResult:
        self.guard.step("close")  # the goodbye (LOGOUT, QUIT) after this gets one step's time too
        return CheckResult(self.protocol, self.endpoint, ok, "done" if ok else self.stage, reply, detail, network,
                           tuple(self.log.lines), cause)

    def failed(self, error: BaseException) -> CheckResult:
        """Return the failed result for `error`, naming a stalled step or a broken cap before anything else."""
        timed_out = any(isinstance(e, TimeoutError) for e in _chain(error))
        if self.guard.expired or (timed_out and self.stage != "connect"):
            self.stage = self.guard.expired or self.stage
            reply = f"no complete answer within {self.login.timeout:g} s in step {self.stage}"
            return self.result(False, self.log.server(reply, "!"), network=True, cause="stalled")
        if self.guard.exceeded:
            return self.result(False, self.log.server(f"{self.guard.exceeded} (step {self.stage})", "!"),
                               cause="bad-reply")
        if isinstance(error, (imaplib.IMAP4.abort, smtplib.SMTPServerDisconnected, EOFError)):
            reply = f"the server ended the session in step {self.stage} ({self.log.clean(str(error))})"
            return self.result(False, self.log.server(reply, "!"), cause="bad-reply")
        if isinstance(error, smtplib.SMTPConnectError):
            reply = f"the server refused the session: {error.smtp_code} {self.log.clean(error.smtp_error)}"
            return self.result(False, self.log.server(reply), cause="bad-reply")
        network = timed_out or (self.stage == "connect" and isinstance(error, OSError)
                                and not isinstance(error, ssl.SSLError))
        if isinstance(error, ssl.SSLError):
            self.stage = "tls"
        if timed_out:
            reply = f"no answer within the timeout ({self.stage})"
        elif isinstance(error, smtplib.SMTPResponseException):
            reply = f"{error.smtp_code} {self.log.clean(error.smtp_error)}"
        else:
            reply = str(error)
        server_said = isinstance(error, (smtplib.SMTPResponseException, imaplib.IMAP4.error, poplib.error_proto))
        return self.result(False, self.log.server(reply, "S" if server_said else "!"), network=network)

    def unreadable(self, error: Exception) -> CheckResult:
        """Return the failed result for a reply the protocol library could not parse (a hostile or broken peer)."""
        if self.guard.expired or self.guard.exceeded:
            return self.failed(error)
        what = f"{type(error).__name__}: {self.log.clean(str(error))}"
        reply = f"a reply verify cannot read in step {self.stage} ({what})"
        return self.result(False, self.log.server(reply, "!"), cause="bad-reply")

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


def _chain(error: BaseException) -> list[BaseException]:
    """Return `error` and the exceptions it was raised from or during (smtplib wraps a timeout in its own error)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


@contextmanager
def _goodbye(*calls: Callable[[], object]) -> Iterator[None]:
    """Say goodbye (LOGOUT, QUIT) when the block ends; a failed goodbye never hides what happened in the block."""
    try:
        yield
    finally:
        for call in calls:
            with suppress(Exception):  # the session is over either way; its outcome is already known
                call()


def _imap_text(data: object) -> bytes:
    """Join imaplib's response data (a list of bytes, sometimes with None or tuples) into one line."""
    items = data if isinstance(data, list) else [data]
    return b" ".join(item if isinstance(item, bytes) else str(item).encode() for item in items if item is not None)


class _Attached:
    """Mixin for imaplib and poplib: every socket the library creates is attached to the session's guard."""

    guard: _Guard

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock: socket.socket = super()._create_socket(timeout)  # type: ignore[misc]
        self.guard.attach(sock)
        return sock


class _IMAP(_Attached, imaplib.IMAP4_SSL):
    """imaplib on a guarded socket with capped reads."""

    def __init__(self, endpoint: Endpoint, login: Login, guard: _Guard) -> None:
        self.guard = guard
        super().__init__(endpoint.host, endpoint.port, ssl_context=login.context, timeout=login.timeout)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.file = _Limited(self.file, self.guard)  # type: ignore[assignment]  # a BinaryIO for imaplib's reads


def check_imap(endpoint: Endpoint, login: Login) -> CheckResult:
    """IMAP over TLS: AUTHENTICATE XOAUTH2, then a read-only SELECT of INBOX (EXAMINE)."""
    session = _Session("imap", endpoint, login)
    try:
        imap = _IMAP(endpoint, login, session.guard)
        with _goodbye(imap.logout):
            session.log.server(imap.welcome)
            if not session.authorize():
                return session.result(False, NO_TOKEN)
            session.log.client("AUTHENTICATE XOAUTH2")
            session.log.server(_imap_text(imap.authenticate("XOAUTH2", session.responder())[1]))
            session.enter("mailbox")
            session.log.client("EXAMINE INBOX")
            status, data = imap.select("INBOX", readonly=True)
            reply = session.log.server(_imap_text(data))
            if status != "OK":
                return session.result(False, f"{status} {reply}")
            return session.result(True, reply, f"AUTHENTICATE XOAUTH2, EXAMINE INBOX: {reply} messages")
    except (imaplib.IMAP4.error, OSError) as error:
        return session.failed(error)
    except Exception as error:
        return session.unreadable(error)


class _POP3(_Attached, poplib.POP3_SSL):
    """poplib on a guarded socket with capped reads, plus AUTH, which poplib lacks."""

    def __init__(self, endpoint: Endpoint, login: Login, guard: _Guard) -> None:
        self.guard = guard
        super().__init__(endpoint.host, endpoint.port, timeout=login.timeout, context=login.context)

    def _getline(self) -> tuple[bytes, int]:
        if not isinstance(self.file, _Limited):
            self.file = _Limited(self.file, self.guard)  # type: ignore[assignment]  # a BinaryIO for poplib
        line: tuple[bytes, int] = super()._getline()  # type: ignore[misc]
        return line

    def line(self, text: str) -> bytes:
        """Send one line and return the one-line answer, on the same connection."""
        self.sock.sendall(text.encode("ascii") + b"\r\n")
        return self._getline()[0].rstrip(b"\r\n")


def check_pop(endpoint: Endpoint, login: Login) -> CheckResult:
    """POP3 over TLS: AUTH XOAUTH2, then STAT."""
    session = _Session("pop", endpoint, login)
    try:
        pop = _POP3(endpoint, login, session.guard)
        with _goodbye(pop.close):
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
            session.enter("mailbox")
            session.log.client("STAT")
            count, size = pop.stat()
            session.log.server(f"+OK {count} {size}")
            return session.result(True, f"+OK {count} {size}", f"AUTH XOAUTH2, STAT: {count} messages")
    except (poplib.error_proto, OSError) as error:
        return session.failed(error)
    except Exception as error:
        return session.unreadable(error)


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


class _SMTP(smtplib.SMTP):
    """smtplib on a guarded socket with capped reads (an endless `250-` reply is cut at MAX_LINES)."""

    def __init__(self, endpoint: Endpoint, login: Login, guard: _Guard) -> None:
        self.guard = guard
        super().__init__(timeout=login.timeout)
        self._host = endpoint.host  # STARTTLS checks the certificate against it; only __init__(host) sets it

    def open(self, endpoint: Endpoint) -> None:
        """Connect and read the banner (a server that sends none times out in step connect)."""
        code, message = self.connect(endpoint.host, endpoint.port)
        if code != SMTP_READY:
            self.close()
            raise smtplib.SMTPConnectError(code, message)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self.guard.attach(sock)
        return sock

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        reply = super().starttls(*args, **kwargs)
        if self.sock is not None:
            self.guard.attach(self.sock)  # the TLS socket replaces the plain one
        return reply

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = _Limited(self.sock.makefile("rb"), self.guard)
        return super().getreply()


def check_smtp(endpoint: Endpoint, login: Login) -> CheckResult:
    """SMTP submission: EHLO, STARTTLS (required), EHLO, AUTH XOAUTH2; with `send_test_to`, one test message."""
    session = _Session("smtp", endpoint, login)
    try:
        smtp = _SMTP(endpoint, login, session.guard)
        with _goodbye(smtp.quit, smtp.close):
            smtp.open(endpoint)
            session.log.client("EHLO")
            session.log.server(_smtp_text(smtp.ehlo()))
            session.enter("tls")
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
            session.enter("send")
            session.log.client(f"MAIL FROM:<{login.mailbox}> RCPT TO:<{login.send_test_to}> DATA")
            smtp.send_message(_test_message(login.mailbox, login.send_test_to), login.mailbox, [login.send_test_to])
            session.log.server("250 accepted")
            return session.result(True, reply, f"EHLO, STARTTLS, AUTH XOAUTH2, test message to {login.send_test_to}")
    except (smtplib.SMTPException, OSError) as error:
        return session.failed(error)
    except Exception as error:
        return session.unreadable(error)


IMPLEMENTED: Mapping[tuple[str, str], Callable[[Endpoint, Login], CheckResult]] = {
    ("imap", "tls"): check_imap, ("pop", "tls"): check_pop, ("smtp", "starttls"): check_smtp,
}
"""The checks there are, by protocol and connection security (TLS from the first byte, or STARTTLS before AUTH)."""


def checks_for(security: Mapping[str, str]) -> dict[str, Callable[[Endpoint, Login], CheckResult]]:
    """Return each protocol's check for the security Microsoft's facts give it; raise LookupError if none exists."""
    missing = [f"{p} over {s}" for p, s in security.items() if (p, s) not in IMPLEMENTED]
    if missing:
        raise LookupError(f"no check for {', '.join(missing)}; checks exist for "
                          f"{', '.join(f'{p} over {s}' for p, s in IMPLEMENTED)}")
    return {protocol: IMPLEMENTED[(protocol, mode)] for protocol, mode in security.items()}


CHECKS = checks_for(SECURITY)
"""Each protocol's check, for the security exo_domain.microsoft.PROTOCOLS gives it (read, not restated here)."""


def run_checks(endpoints: Mapping[str, Endpoint], login: Login) -> list[CheckResult]:
    """Run every protocol's check at the same time; return the results in the order of `endpoints`."""
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints)), thread_name_prefix="verify") as pool:
        futures = [pool.submit(CHECKS[protocol], endpoint, login) for protocol, endpoint in endpoints.items()]
        return [future.result() for future in futures]
