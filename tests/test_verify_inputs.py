"""verify's inputs: flags and stack outputs become one Target, and bad input is one line on stderr with exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.cli import build_parser, main
from exo_oauth.commands.verify import request_from
from exo_oauth.util.errors import UsageError
from exo_oauth.verify.inputs import resolve_target
from exo_oauth.verify.request import VerifyRequest
from exo_oauth.verify.token_cache import cache_file, credential_partition

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT = "22222222-3333-4444-8555-666666666666"
SECRET = "Abc8Q~s3cr3t-value-for-tests"


def outputs(tmp_path: Path, stored: str = SECRET, **app: Any) -> Path:
    """Write a stack outputs file with one app-only app `scanners` (two mailboxes) and return its path."""
    entry = {"name": "scanners", "displayName": "Scanners", "flow": "app-only", "protocols": ["imap", "smtp"],
             "tenantId": TENANT, "cloud": "global", "clientId": CLIENT,
             "applicationObjectId": "55555555-6666-4777-8888-999999999999",
             "servicePrincipalObjectId": "33333333-4444-4555-8666-777777777777", "permissions": [],
             "adminConsentUrl": f"https://login.microsoftonline.com/{TENANT}/v2.0/adminconsent?client_id={CLIENT}",
             "scopes": ["https://outlook.office365.com/.default"],
             "endpoints": {"imap": {"host": "outlook.office365.com", "port": 993, "security": "tls"},
                           "smtp": {"host": "smtp.office365.com", "port": 587, "security": "starttls"}},
             "mailboxes": [{"address": "scanner@contoso.example", "sendAs": False},
                           {"address": "frontdesk@contoso.example", "sendAs": True}],
             "credential": {"type": "secret", "keyId": "44444444-5555-4666-8777-888888888888", "endDate": None,
                            "secrets": []}}
    entry.update(app)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"tenantId": TENANT, "apps": {"scanners": entry},
                                "clientSecrets": {"scanners": stored}}), encoding="utf-8")
    return path


def args(*argv: str) -> VerifyRequest:
    """Parse `exo-oauth verify argv` into the request the command builds."""
    return request_from(build_parser().parse_args(["verify", *argv]))


@pytest.fixture(autouse=True)
def cache_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the token cache in the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_stack_outputs_give_identity_endpoints_secret_and_the_first_mailbox(tmp_path: Path) -> None:
    """From the outputs: tenant, client, protocols, Exchange endpoints, secret, and the first mailbox with a note."""
    target = resolve_target(args("--stack", "contoso", "--outputs", str(outputs(tmp_path))), {})
    assert (target.tenant, target.client_id, target.flow, target.protocols) == (TENANT, CLIENT, "app-only",
                                                                                ("imap", "smtp"))
    assert str(target.endpoints["smtp"]) == "smtp.office365.com:587"
    assert target.credential is not None
    assert target.credential.value.reveal() == SECRET
    assert target.mailbox == "scanner@contoso.example"
    assert target.notes == ("checking scanner@contoso.example, the first of the app's 2 mailboxes; choose another "
                            "with --mailbox",)


def test_cloud_flag_picks_login_host_mail_hosts_and_scope(tmp_path: Path) -> None:
    """--cloud usgov replaces the stack's global hosts and scope with GCC High's."""
    target = resolve_target(args("--stack", "contoso", "--outputs", str(outputs(tmp_path)), "--cloud", "usgov"), {})
    assert target.authority == f"https://login.microsoftonline.us/{TENANT}"
    assert target.scopes == ("https://outlook.office365.us/.default",)
    assert {p: str(e) for p, e in target.endpoints.items()} == {"imap": "outlook.office365.us:993",
                                                                 "smtp": "outlook.office365.us:587"}


def test_a_stack_in_another_cloud_is_checked_there_without_the_cloud_flag(tmp_path: Path) -> None:
    """The outputs' `cloud` picks the login host and token audiences, as their scopes and endpoints pick the rest."""
    usgov = {"cloud": "usgov", "scopes": ["https://outlook.office365.us/.default"],
             "endpoints": {"imap": {"host": "outlook.office365.us", "port": 993, "security": "tls"},
                           "smtp": {"host": "outlook.office365.us", "port": 587, "security": "starttls"}}}
    target = resolve_target(args("--stack", "contoso", "--outputs", str(outputs(tmp_path, **usgov))), {})
    assert (target.cloud, target.authority) == ("usgov", f"https://login.microsoftonline.us/{TENANT}")
    assert "https://outlook.office365.us" in target.audiences
    assert "https://outlook.office365.com" not in target.audiences
    assert target.scopes == ("https://outlook.office365.us/.default",)


def test_explicit_host_flags_beat_the_cloud(tmp_path: Path) -> None:
    """--imap and --authority-host override whatever the cloud or the stack say."""
    target = resolve_target(args("--stack", "contoso", "--outputs", str(outputs(tmp_path)), "--cloud", "china",
                                 "--imap", "127.0.0.1:10993", "--authority-host", "https://127.0.0.1:8443"), {})
    assert (str(target.endpoints["imap"]), str(target.endpoints["smtp"])) == ("127.0.0.1:10993",
                                                                              "smtp.partner.outlook.cn:587")
    assert (target.authority, target.custom_authority) == (f"https://127.0.0.1:8443/{TENANT}", True)


def test_delegated_explicit_run_needs_no_credential_and_requests_per_protocol_scopes() -> None:
    """Without a credential the flow is delegated, with the scopes a deployed app's clients request (the outputs')."""
    target = resolve_target(args("--tenant", TENANT, "--client-id", CLIENT, "--protocols", "smtp,imap"), {})
    assert (target.flow, target.credential, target.mailbox) == ("delegated", None, None)
    assert target.scopes == ("https://outlook.office.com/IMAP.AccessAsUser.All",
                             "https://outlook.office.com/SMTP.Send", "offline_access")


def test_token_cache_file_depends_on_the_credential(tmp_path: Path) -> None:
    """Another secret means another cache file, and the secret never appears in the file's path."""
    first = resolve_target(args("--tenant", TENANT, "--client-id", CLIENT, "--secret-env", "S", "--mailbox",
                                "a@contoso.example"), {"S": SECRET, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    second = resolve_target(args("--tenant", TENANT, "--client-id", CLIENT, "--secret-env", "S", "--mailbox",
                                 "a@contoso.example"), {"S": SECRET + "x", "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert first.token_cache is not None
    assert first.token_cache != second.token_cache
    assert first.token_cache.is_relative_to(tmp_path / "cache" / "exo-oauth" / "tokens")
    assert SECRET not in str(first.token_cache)
    assert credential_partition(first.credential)[1:] not in str(first.token_cache)
    assert first.token_cache == cache_file(first.token_cache.parent, first.authority, CLIENT,
                                           credential_partition(first.credential))


@pytest.mark.parametrize(("argv", "environ", "expected"), [
    (["--imap", "outlook.office365.com"], {}, "--imap 'outlook.office365.com': not HOST:PORT"),
    (["--secret-env", "NOPE"], {}, "--secret-env: the variable it names is not set"),
    (["--secret-env", "EMPTY"], {"EMPTY": ""}, "--secret-env: the variable it names is empty"),
    (["--secret-env", "S", "--certificate", "x.pem"], {"S": "v"}, "--secret-env and --certificate: both given"),
    (["--mailbox", "not-an-address"], {}, "--mailbox 'not-an-address': not a mailbox address"),
    (["--tenant", "contoso.com\n"], {}, "--tenant: not a GUID or a domain"),
    (["--authority-host", "http://127.0.0.1:1"], {}, "--authority-host 'http://127.0.0.1:1': allowed: https://"),
    (["--authority-host", "https://user@login.example"], {}, "--authority-host 'https://user@login.example': allowed"),
    (["--authority-host", "https://evil.example\\@login.example"], {}, "allowed: https://HOST[:PORT] without a path"),
    (["--timeout", "0"], {}, "--timeout 0.0: allowed: seconds"),
    (["--protocols", "imap,imap4"], {}, "--protocols 'imap,imap4': 'imap4' is not allowed"),
    (["--send-test-to", "a@contoso.example", "--protocols", "imap"], {}, "--send-test-to: needs the smtp check"),
])
def test_bad_flags_exit_2_with_one_line_naming_the_flag(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str],
        environ: dict[str, str], expected: str) -> None:
    """Each bad flag gives exit 2 and a single stderr line that names the flag and what is allowed."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    status = main(["verify", "--tenant", TENANT, "--client-id", CLIENT, "--mailbox", "a@contoso.example", *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert expected in err
    assert "allowed" in err


def test_hidden_stack_secret_says_how_to_fix_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs saved without --show-secrets name both remedies: --show-secrets, or --secret-env."""
    status = main(["verify", "--stack", "contoso", "--outputs", str(outputs(tmp_path, stored="[secret]"))])
    err = capsys.readouterr().err
    assert status == 2
    assert all(words in err for words in ("clientSecrets.scanners is hidden", "--show-secrets", "--secret-env"))


@pytest.mark.parametrize(("change", "expected"), [
    ({"credential": {"type": "certificate", "keyId": None, "endDate": None, "secrets": []}},
     "credential.type is 'certificate'"),
    ({"clientId": None}, "apps.scanners.clientId: is required"),
    ({"endpoints": None}, "apps.scanners.endpoints: must be a mapping"),
])
def test_unusable_stack_outputs_name_the_output_key(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    """A certificate app without --certificate, or outputs missing a key, fail naming the output key."""
    with pytest.raises(UsageError, match=re.escape(expected)):
        resolve_target(args("--stack", "contoso", "--outputs", str(outputs(tmp_path, **change))), {})


def test_unknown_app_lists_the_stack_apps(tmp_path: Path) -> None:
    """--app with a name the stack does not have lists the names it does have."""
    with pytest.raises(UsageError, match=r"--app 'helpdesk': not in .*; allowed: scanners"):
        resolve_target(args("--stack", "contoso", "--outputs", str(outputs(tmp_path)), "--app", "helpdesk"), {})


def test_certificate_file_without_a_private_key_is_refused(tmp_path: Path) -> None:
    """--certificate needs the private key as well as the certificate, and says so without showing the file."""
    pem = tmp_path / "public.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", encoding="ascii")
    with pytest.raises(UsageError, match="no readable private key"):
        resolve_target(args("--tenant", TENANT, "--client-id", CLIENT, "--certificate", str(pem), "--mailbox",
                            "a@contoso.example"), {})


def test_token_cache_inside_the_project_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder inside the project (which may be committed) is refused; --token-cache off still works."""
    (tmp_path / "Pulumi.yaml").write_text("name: exo-oauth\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    base = ("--tenant", TENANT, "--client-id", CLIENT, "--project-dir", str(tmp_path))
    with pytest.raises(UsageError, match="the token cache would be inside the project"):
        resolve_target(args(*base), {"XDG_CACHE_HOME": str(tmp_path / ".cache")})
    with pytest.raises(UsageError, match="the token cache would be inside the project"):
        resolve_target(args(*base, "--token-cache", "plain"), {"XDG_CACHE_HOME": str(tmp_path / ".cache")})
    assert resolve_target(args(*base, "--token-cache", "off"), {}).token_cache is None


def test_token_cache_mode_defaults_to_encrypted_and_the_old_flag_is_gone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --token-cache the cache is encrypted; plain must be asked for; --no-token-cache is a usage error."""
    base = ("--tenant", TENANT, "--client-id", CLIENT, "--secret-env", "S", "--mailbox", "a@contoso.example")
    environ = {"S": SECRET, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert resolve_target(args(*base), environ).token_cache_mode == "encrypted"
    plain = resolve_target(args(*base, "--token-cache", "plain"), environ)
    assert (plain.token_cache_mode, plain.token_cache) == ("plain", resolve_target(args(*base), environ).token_cache)
    with pytest.raises(SystemExit):
        args(*base, "--no-token-cache")
    with pytest.raises(SystemExit):
        args(*base, "--token-cache", "keyring")
    err = capsys.readouterr().err
    assert "argument --token-cache: invalid choice" in err
    assert "keyring" not in err  # what was typed is never repeated (it may be a secret in the wrong place)
