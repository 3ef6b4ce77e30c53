"""`exo-oauth verify` end to end against real servers: the HTTPS token stand-in, Dovecot and an SMTP sink."""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.cli import main
from exo_oauth.signin.secret import Secret
from exo_oauth.signin.token import PendingToken, TokenFailure, TokenOutcome
from exo_oauth.verify.checks import Login, check_imap, tls_context
from exo_oauth.verify.clouds import Endpoint
from standins.mailservers import pki
from standins.mailservers.dovecot import free_port
from standins.mailservers.harness import OTHER_TENANT, MailServers
from standins.mailservers.token_server import App

SECRET_ENV = "EXO_OAUTH_TEST_SECRET"
ALL_ROLES = ("IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp")
DELEGATED = ("IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give every test its own token cache folder, and return it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run `exo-oauth verify ... --format json` in this process; return status, parsed report and stderr."""
    status = main(["verify", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    return status, json.loads(out) if out else {}, err


def app_only_args(servers: MailServers, app: App, monkeypatch: pytest.MonkeyPatch, *extra: str) -> list[str]:
    """Return flags for an app-only run of `app` with its secret in the environment."""
    monkeypatch.setenv(SECRET_ENV, app.secret or "")
    return ["--tenant", app.tenant_id, "--client-id", app.client_id, "--secret-env", SECRET_ENV,
            "--mailbox", app.mailbox, *servers.server_args(), *extra]


def os_keyring_works(location: Path) -> bool:
    """Return True if msal-extensions can build its encrypted persistence on this machine."""
    import msal_extensions  # noqa: PLC0415 - only this test needs it

    try:
        msal_extensions.build_encrypted_persistence(str(location))
    except Exception:  # ImportError or RuntimeError: no usable OS keyring
        return False
    return True


def rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the report's rows by name (token, imap, pop, smtp)."""
    return {row["name"]: row for row in report["checks"]}


def codes(report: dict[str, Any]) -> dict[str, list[str]]:
    """Return the finding codes of every row."""
    return {name: [f["code"] for f in row["findings"]] for name, row in rows(report).items()}


def test_app_only_secret_passes_all_three_protocols_with_one_token_request(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A correctly set-up app-only app logs in to IMAP, POP and SMTP with one token request, and exits 0."""
    app = mail_servers.app()
    status, report, _ = verify(capsys, *app_only_args(mail_servers, app, monkeypatch))
    assert status == 0
    assert report["ok"] is True
    assert {name: row["status"] for name, row in rows(report).items()} == {
        "token": "ok", "imap": "ok", "pop": "ok", "smtp": "ok"}
    assert mail_servers.tokens.token_requests(app.client_id) == 1


def test_second_run_within_the_token_lifetime_sends_no_token_request(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        private_cache: Path) -> None:
    """The plain cache answers a second run, and its file is private (0600 in a 0700 folder, no secret)."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch, "--token-cache", "plain")
    verify(capsys, *args)
    status, report, _ = verify(capsys, *args)
    assert status == 0
    assert mail_servers.tokens.token_requests(app.client_id) == 1
    assert "from the token cache" in rows(report)["token"]["summary"]
    files = list((private_cache / "exo-oauth" / "tokens").iterdir())
    assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600]
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    assert app.secret is not None
    assert app.secret not in files[0].read_text()


def test_an_unreadable_cache_file_is_replaced_not_fatal(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        private_cache: Path) -> None:
    """A cache file cut short or edited by hand costs one token request, not a crash."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch, "--token-cache", "plain")
    verify(capsys, *args)
    [cached] = (private_cache / "exo-oauth" / "tokens").iterdir()
    cached.write_text('{"AccessToken": {', encoding="utf-8")
    assert verify(capsys, *args)[0] == 0
    assert mail_servers.tokens.token_requests(app.client_id) == 2
    assert verify(capsys, *args)[0] == 0
    assert mail_servers.tokens.token_requests(app.client_id) == 2


def test_a_cache_folder_that_cannot_be_written_is_one_notice_not_a_failure(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        private_cache: Path) -> None:
    """App-only and delegated: a cache that cannot be saved costs a notice; the token is used and the run passes."""
    private_cache.mkdir()
    (private_cache / "exo-oauth").write_text("a file where the cache folder belongs", encoding="utf-8")
    app = mail_servers.app()
    status, report, err = verify(capsys, *app_only_args(mail_servers, app, monkeypatch, "--token-cache", "plain"))
    assert (status, rows(report)["token"]["status"]) == (0, "ok")
    [line] = err.splitlines()
    assert line.startswith("exo-oauth verify: token cache not saved: the store failed during the run (")
    user = mail_servers.app(secret=None, roles=(), public_client=True, scopes=DELEGATED)
    status, report, err = verify(capsys, "--tenant", user.tenant_id, "--client-id", user.client_id,
                                 *mail_servers.server_args(), "--token-cache", "plain")
    assert (status, report["target"]["mailbox"]) == (0, user.mailbox)
    assert "exo-oauth verify: token cache not saved: " in err


def test_a_cache_file_that_cannot_be_read_is_one_notice_not_a_failure(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        private_cache: Path) -> None:
    """A cache file the OS refuses to read (here: its permissions cannot be set) turns the cache off for the run."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch, "--token-cache", "plain")
    verify(capsys, *args)

    def refuse(fd: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted", "the cache file")

    monkeypatch.setattr("exo_oauth.verify.token_cache.os.fchmod", refuse)
    status, report, err = verify(capsys, *args)
    assert (status, rows(report)["token"]["status"]) == (0, "ok")
    assert err.startswith("exo-oauth verify: token cache off: it cannot be opened (Operation not permitted (")
    assert mail_servers.tokens.token_requests(app.client_id) == 2


def test_default_cache_without_an_os_keyring_is_off_with_one_line_and_no_file(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        private_cache: Path) -> None:
    """Without a working OS keyring the default (encrypted) cache writes nothing, says so once, and still works."""
    if os_keyring_works(private_cache.parent / "probe" / "cache.json"):
        pytest.skip("this machine has a working OS keyring, so the encrypted cache is used")
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch)
    for run in (1, 2):
        status, report, err = verify(capsys, *args)
        assert status == 0
        assert mail_servers.tokens.token_requests(app.client_id) == run
        assert "1 request to" in rows(report)["token"]["summary"]
        [line] = err.splitlines()
        assert line.startswith("exo-oauth verify: token cache off: no OS keyring for an encrypted cache (")
        assert line.endswith("; pass --token-cache plain to keep tokens in a private 0600 file, or --token-cache off "
                             "to silence this")
        assert app.secret is not None
        assert app.secret not in err
        assert not any(token in err for token in mail_servers.tokens.issued_tokens())
    assert not private_cache.exists() or not any(private_cache.rglob("*"))
    status, _, err = verify(capsys, *args, "--token-cache", "off")
    assert (status, err) == (0, "")
    assert not private_cache.exists() or not any(private_cache.rglob("*"))


def test_a_changed_secret_is_tested_instead_of_served_from_the_cache(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached token for the right secret does not hide that a different, wrong secret fails."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch, "--token-cache", "plain")
    assert verify(capsys, *args)[0] == 0
    monkeypatch.setenv(SECRET_ENV, "wrong~value")
    status, report, _ = verify(capsys, *args)
    assert status == 1
    assert codes(report)["token"] == ["secret-invalid"]


def test_certificate_credential_passes(mail_servers: MailServers, capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    """A certificate credential (signed client assertion) gets a token that works for all three protocols."""
    key = pki.rsa_key()
    certificate = pki.self_signed(key, "exo-oauth verify test app")
    app = mail_servers.app(secret=None, certificate=certificate)
    pem = tmp_path / "app.pem"
    pem.write_bytes(pki.private_pem(key) + pki.certificate_pem(certificate))
    status, report, _ = verify(capsys, "--tenant", app.tenant_id, "--client-id", app.client_id, "--certificate",
                               str(pem), "--mailbox", app.mailbox, *mail_servers.server_args())
    assert (status, codes(report)) == (0, {"token": [], "imap": [], "pop": [], "smtp": []})


def test_delegated_device_code_passes_and_a_second_run_needs_no_sign_in(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str]) -> None:
    """Device code sign-in shows the code once; the second run uses the cached token without a prompt or request."""
    app = mail_servers.app(secret=None, roles=(), public_client=True, scopes=DELEGATED)
    args = ["--tenant", app.tenant_id, "--client-id", app.client_id, *mail_servers.server_args(),
            "--token-cache", "plain"]
    status, report, err = verify(capsys, *args)
    assert (status, report["target"]["mailbox"]) == (0, app.mailbox)
    assert "enter the code" in err
    status, report, err = verify(capsys, *args)
    assert (status, err) == (0, "")
    assert mail_servers.tokens.token_requests(app.client_id) == 1


@pytest.mark.parametrize(("fields", "code"), [
    ({"expired": True}, "token-expired"),
    ({"audience": "https://graph.microsoft.com"}, "wrong-audience"),
    ({"issuing_tenant": OTHER_TENANT}, "wrong-tenant"),
    ({"roles": ()}, "no-roles"),
    ({"roles": ("full_access_as_app",)}, "wrong-role"),
])
def test_bad_token_fails_every_protocol_with_its_cause(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        fields: dict[str, Any], code: str) -> None:
    """An expired token, one for another audience or tenant, or one without the right roles fails with that cause."""
    app = mail_servers.app(**fields)
    status, report, _ = verify(capsys, *app_only_args(mail_servers, app, monkeypatch))
    assert status == 1
    assert codes(report) == {"token": [], "imap": [code], "pop": [code], "smtp": [code]}


def test_missing_pop_role_fails_only_pop(mail_servers: MailServers, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without POP.AccessAsApp, POP fails with role-missing while IMAP and SMTP pass."""
    app = mail_servers.app(roles=("IMAP.AccessAsApp", "SMTP.SendAsApp"))
    status, report, _ = verify(capsys, *app_only_args(mail_servers, app, monkeypatch))
    assert status == 1
    assert codes(report) == {"token": [], "imap": [], "pop": ["role-missing"], "smtp": []}
    assert "POP.AccessAsApp" in rows(report)["pop"]["findings"][0]["fix"]


def test_mailbox_the_principal_may_not_open_points_at_fullaccess_and_the_service_principal(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A good token refused for a mailbox never granted names Add-MailboxPermission and New-ServicePrincipal."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch)
    args[args.index("--mailbox") + 1] = "someone-else@contoso.example"
    status, report, _ = verify(capsys, *args)
    assert status == 1
    assert codes(report) == {"token": [], "imap": ["auth-rejected"], "pop": ["auth-rejected"],
                             "smtp": ["auth-rejected"]}
    fix = rows(report)["imap"]["findings"][0]["fix"]
    assert "Add-MailboxPermission -Identity someone-else@contoso.example" in fix
    assert "New-ServicePrincipal" in fix


def test_smtp_auth_disabled_for_the_mailbox_fails_only_smtp(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """When only SMTP refuses a token the other protocols accept, the fix re-enables SMTP AUTH for the mailbox."""
    app = mail_servers.app(smtp_auth_enabled=False)
    status, report, _ = verify(capsys, *app_only_args(mail_servers, app, monkeypatch))
    assert status == 1
    assert codes(report) == {"token": [], "imap": [], "pop": [], "smtp": ["smtp-rejected"]}
    assert f"Set-CASMailbox -Identity {app.mailbox} -SmtpClientAuthenticationDisabled $false" in \
        rows(report)["smtp"]["findings"][0]["fix"]


@pytest.mark.parametrize(("change", "code"), [
    ({SECRET_ENV: "not-the-value"}, "secret-invalid"),
    ({"app": {"secret_expired": True}}, "secret-expired"),
    ({"--client-id": "0c0ffee0-0000-4000-8000-000000000000"}, "client-not-found"),
    ({"--tenant": "00000000-0000-4000-8000-000000000007"}, "tenant-not-found"),
])
def test_token_endpoint_errors_are_explained_and_no_protocol_is_tried(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        change: dict[str, Any], code: str) -> None:
    """AADSTS errors (wrong or expired secret, unknown client or tenant) become the token row's finding."""
    args = app_only_args(mail_servers, mail_servers.app(**change.get("app", {})), monkeypatch)
    for key, value in change.items():
        if key == SECRET_ENV:
            monkeypatch.setenv(key, value)
        elif key.startswith("--"):
            args[args.index(key) + 1] = value
    status, report, _ = verify(capsys, *args)
    assert status == 1
    assert codes(report) == {"token": [code], "imap": [], "pop": [], "smtp": []}
    assert {row["status"] for name, row in rows(report).items() if name != "token"} == {"not-run"}


def test_secret_id_given_instead_of_the_value_is_named_as_such(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """AADSTS7000215 with a GUID-shaped secret says that the Secret ID was used instead of the value."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch)
    monkeypatch.setenv(SECRET_ENV, app.secret_id or "")
    status, report, _ = verify(capsys, *args)
    finding = rows(report)["token"]["findings"][0]
    assert (status, finding["code"]) == (1, "secret-invalid")
    assert "shape of a GUID" in finding["cause"]


@pytest.mark.parametrize(("fields", "code"), [
    ({"consented": False}, "consent-missing"),
    ({"public_client": False}, "public-client-disabled"),
])
def test_delegated_token_endpoint_errors_are_explained(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], fields: dict[str, Any], code: str) -> None:
    """Missing consent (AADSTS65001) and disabled public-client flows (AADSTS7000218) are named for delegated apps."""
    app = mail_servers.app(**{"secret": None, "roles": (), "public_client": True, "scopes": DELEGATED, **fields})
    status, report, _ = verify(capsys, "--tenant", app.tenant_id, "--client-id", app.client_id,
                               *mail_servers.server_args())
    assert (status, codes(report)["token"]) == (1, [code])


def test_unregistered_certificate_is_explained(mail_servers: MailServers, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    """A certificate the app does not have fails the assertion with AADSTS700027, explained as such."""
    registered, used = pki.rsa_key(), pki.rsa_key()
    app = mail_servers.app(secret=None, certificate=pki.self_signed(registered, "registered"))
    pem = tmp_path / "other.pem"
    pem.write_bytes(pki.private_pem(used) + pki.certificate_pem(pki.self_signed(used, "other")))
    status, report, _ = verify(capsys, "--tenant", app.tenant_id, "--client-id", app.client_id, "--certificate",
                               str(pem), "--mailbox", app.mailbox, *mail_servers.server_args())
    assert (status, codes(report)["token"]) == (1, ["certificate-invalid"])


def test_send_test_to_delivers_one_message_through_the_relay(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """--send-test-to sends exactly one message from the mailbox, which reaches the relay."""
    app = mail_servers.app()
    before = len(mail_servers.sink.messages)
    status, _, _ = verify(capsys, *app_only_args(mail_servers, app, monkeypatch, "--protocols", "smtp",
                                                 "--send-test-to", "admin@contoso.example"))
    assert status == 0
    delivered = mail_servers.sink.messages[before:]
    assert [(m.mail_from, m.rcpt_tos) for m in delivered] == [(app.mailbox, ["admin@contoso.example"])]


def test_no_message_is_sent_without_send_test_to(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain SMTP check authenticates only; nothing reaches the relay."""
    app = mail_servers.app()
    before = len(mail_servers.sink.messages)
    assert verify(capsys, *app_only_args(mail_servers, app, monkeypatch, "--protocols", "smtp"))[0] == 0
    assert len(mail_servers.sink.messages) == before


def test_smtp_server_without_starttls_never_gets_the_token(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a server that offers no STARTTLS, verify stops before AUTH and says so."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch, "--protocols", "smtp", "--verbose")
    args[args.index("--smtp") + 1] = f"127.0.0.1:{mail_servers.sink_port}"
    status, report, _ = verify(capsys, *args)
    smtp = rows(report)["smtp"]
    assert (status, codes(report)["smtp"]) == (1, ["starttls-missing"])
    assert not [line for line in smtp["transcript"] if line.startswith("C: AUTH")]


def test_closed_port_exits_4_as_unreachable(mail_servers: MailServers, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """When the only failure is a server that cannot be reached, the exit status is 4 (could not look), not 1."""
    app = mail_servers.app()
    args = app_only_args(mail_servers, app, monkeypatch, "--protocols", "imap")
    args[args.index("--imap") + 1] = f"127.0.0.1:{free_port()}"
    status, report, _ = verify(capsys, *args)
    assert (status, codes(report)["imap"]) == (4, ["unreachable"])


def test_silent_server_times_out_as_a_network_failure(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the connection but never answers is cut off by --timeout and reported as a timeout."""
    app = mail_servers.app()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        args = app_only_args(mail_servers, app, monkeypatch, "--protocols", "imap", "--timeout", "0.5")
        args[args.index("--imap") + 1] = f"127.0.0.1:{silent.getsockname()[1]}"
        status, report, _ = verify(capsys, *args)
    assert (status, codes(report)["imap"]) == (4, ["timeout"])


def test_unreachable_login_host_is_a_network_failure(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """When the login host cannot be reached, the token row says so and the exit status is 3."""
    args = app_only_args(mail_servers, mail_servers.app(), monkeypatch)
    args[args.index("--authority-host") + 1] = f"https://127.0.0.1:{free_port()}"
    status, report, _ = verify(capsys, *args)
    assert (status, codes(report)["token"]) == (4, ["login-unreachable"])


def test_server_certificate_from_an_untrusted_ca_fails_at_tls(mail_servers: MailServers, tmp_path: Path) -> None:
    """TLS is always verified: Dovecot's certificate is refused when only another CA is trusted."""
    other = pki.make_server_tls(tmp_path)
    login = Login("box@contoso.example", lambda: Secret("not-a-token"), tls_context(other.ca_file), timeout=5)
    result = check_imap(Endpoint("127.0.0.1", mail_servers.dovecot.ports.imap), login)
    assert (result.ok, result.stage) == (False, "tls")
    assert "certificate verify failed" in result.reply


@pytest.mark.parametrize("output", ["text", "json"])
def test_verbose_output_never_contains_a_token_or_the_secret(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        output: str) -> None:
    """With --verbose, successful and failing runs print transcripts and claims but no token and no secret."""
    good, bad = mail_servers.app(), mail_servers.app(smtp_auth_enabled=False, expired=True)
    printed = ""
    for app in (good, bad):
        main(["verify", *app_only_args(mail_servers, app, monkeypatch, "--verbose", "--format", output)])
        out, err = capsys.readouterr()
        printed += out + err
    assert "[XOAUTH2 credentials hidden]" in printed
    shown = [value for value in [good.secret, bad.secret, *mail_servers.tokens.issued_tokens()]
             if value and value in printed]
    assert shown == []
    assert "auth=Bearer" not in printed


def test_stack_outputs_supply_app_mailbox_and_secret(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`--stack --outputs` reads client ID, tenant, protocols, mailboxes and the secret, and says which mailbox."""
    app = mail_servers.app(roles=("IMAP.AccessAsApp",))
    outputs = {"tenantId": app.tenant_id, "apps": {"scanners": {
        "name": "scanners", "displayName": "Scanners", "flow": "app-only", "protocols": ["imap"],
        "tenantId": app.tenant_id, "cloud": "global", "clientId": app.client_id, "applicationObjectId": app.object_id,
        "servicePrincipalObjectId": app.object_id, "permissions": [], "endpoints": {},
        "adminConsentUrl": "https://login.microsoftonline.com/common/v2.0/adminconsent",
        "scopes": ["https://outlook.office365.com/.default"],
        "mailboxes": [{"address": app.mailbox, "sendAs": False}, {"address": "other@contoso.example", "sendAs": False}],
        "credential": {"type": "secret", "keyId": app.secret_id, "endDate": None, "secrets": []}}},
        "clientSecrets": {"scanners": app.secret}}
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps(outputs), encoding="utf-8")
    status, report, _ = verify(capsys, "--stack", "contoso", "--outputs", str(saved), *mail_servers.server_args())
    assert (status, list(rows(report))) == (0, ["token", "imap"])
    assert report["target"]["mailbox"] == app.mailbox
    assert report["notes"] == [f"checking {app.mailbox}, the first of the app's 2 mailboxes; choose another with "
                               "--mailbox"]


def test_a_token_request_that_raises_is_a_named_failure_not_a_timeout() -> None:
    """Whatever escapes the token request ends the wait at once, named, not as the run's deadline."""
    def broken() -> TokenOutcome:
        raise RuntimeError("secret-looking text that must not be shown")

    outcome = PendingToken(broken, time.monotonic() + 60, "60 s").result()
    assert outcome.token is None
    assert outcome.failure == TokenFailure((), "error", "the token request failed: RuntimeError")


def test_a_pop_session_that_fails_to_close_keeps_its_result(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Like IMAP's LOGOUT and SMTP's QUIT, a failing POP close after a good STAT does not turn the check red."""
    def broken_close(self: object) -> None:
        raise OSError("close failed")

    monkeypatch.setattr("exo_oauth.verify.checks._POP3.close", broken_close)
    app = mail_servers.app()
    status, report, _ = verify(capsys, *app_only_args(mail_servers, app, monkeypatch, "--protocols", "pop"))
    assert (status, rows(report)["pop"]["status"]) == (0, "ok")


def test_a_step_timer_that_fired_as_its_step_ended_does_not_end_the_next_step() -> None:
    """Timer.cancel() cannot stop a timer that already fired; that late timer must not shut the next step down."""
    from exo_oauth.verify.checks import _Guard  # noqa: PLC0415 - only this test reaches into the guard

    guard = _Guard(60.0, time.monotonic() + 60)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        guard.attach(ours)
        guard.step("greeting")
        fired = guard._timer
        assert fired is not None
        guard.step("authenticate")
        fired.function(*fired.args)  # the greeting's timer, running just after the switch
        guard.pause()
        assert guard.expired == ""
        theirs.sendall(b"still open")
        assert ours.recv(10) == b"still open"


def test_the_certificate_passphrase_is_scrubbed_from_printed_text(
        mail_servers: MailServers, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An encrypted key's passphrase is one of the run's secrets: the last scrub before printing replaces it too."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    from exo_oauth.commands.verify import register, request_from  # noqa: PLC0415
    from exo_oauth.verify.service import verify as run_library  # noqa: PLC0415

    passphrase = "correct horse battery staple"
    key = pki.rsa_key()
    certificate = pki.self_signed(key, "exo-oauth verify test app")
    app = mail_servers.app(secret=None, certificate=certificate)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(passphrase.encode()))
                    + pki.certificate_pem(certificate))
    monkeypatch.setenv("EXO_OAUTH_TEST_PASSPHRASE", passphrase)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["verify", "--tenant", app.tenant_id, "--client-id", app.client_id, "--certificate",
                              str(pem), "--certificate-passphrase-env", "EXO_OAUTH_TEST_PASSPHRASE", "--mailbox",
                              app.mailbox, "--protocols", "imap", *mail_servers.server_args()])
    result = run_library(request_from(args), dict(os.environ), prompt=print)
    assert result.exit_status == 0
    assert passphrase not in result.scrub(f"a line that quotes {passphrase} by accident")
