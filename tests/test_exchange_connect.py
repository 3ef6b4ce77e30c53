"""How the generated scripts sign in (certificate file, object or thumbprint; the cloud) and retry replication delay."""

from typing import Any

import pytest

from exo_domain.config import ExchangeConfig, parse_stack_config
from exo_domain.errors import ConfigError
from exo_domain.exchange_module import module_text
from exo_domain.exchange_scripts import exchange_inputs, render_exchange_scripts
from tests.exchange_factory import app_only, inputs_for
from tests.powershell_parse import (
    calls,
    module_function,
    module_functions,
    nodes,
    parse,
    single_literal,
    text,
)
from tests.stack_factory import app, raw_config

APP_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
ORG = "contoso.onmicrosoft.com"
THUMB = "0123456789ABCDEF0123456789ABCDEF01234567"


def exchange(**keys: Any) -> ExchangeConfig:
    """Parse `exo-oauth:exchange` as the stack file would give it."""
    raw = raw_config(app(), **{"exo-oauth:exchange": keys})
    return parse_stack_config(raw, "stacks/Pulumi.test.yaml").exchange


def params(script: str) -> dict[str, str]:
    """Return each script parameter's default, as PowerShell reads the literal."""
    block = next(n for n in parse(script).children if n.type == "param_block")
    found = {}
    for parameter in (n for n in nodes(block) if n.type == "script_parameter"):
        name = text(parameter).split("$", 1)[1].split()[0]
        default = [n for n in nodes(parameter) if n.type == "string_literal"]
        if default:
            found[name] = single_literal(default[:1])
    return found


def test_certificate_file_and_password_variable_become_the_scripts_defaults() -> None:
    """The certificateFilePath and the password variable's NAME reach param(); the thumbprint stays empty."""
    config = exchange(organization=ORG, appId=APP_ID, certificateFilePath="/run/secrets/exo it's.pfx",
                      certificatePasswordVariable="EXO_CERTIFICATE_PASSWORD", autoApply=True)
    for script in render_exchange_scripts(inputs_for({"a": app_only("a")}, config)).values():
        defaults = params(script)
        assert defaults["CertificateFilePath"] == "/run/secrets/exo it's.pfx"
        assert defaults["CertificatePasswordVariable"] == "EXO_CERTIFICATE_PASSWORD"
        assert defaults["CertificateThumbprint"] == ""
        assert defaults["AppId"] == APP_ID


def test_password_is_read_from_the_named_environment_variable_at_run_time() -> None:
    """Connect-ExoOAuth reads the variable the stack names and hands Connect-ExchangeOnline a SecureString."""
    connect = module_function("Connect-ExoOAuth")
    assert "[Environment]::GetEnvironmentVariable($CertificatePasswordVariable)" in connect
    assert "$connect.CertificatePassword = ConvertTo-SecureString -String $password -AsPlainText -Force" in connect
    assert "$connect.CertificateFilePath = $CertificateFilePath" in connect


def test_thumbprint_sign_in_stops_with_one_clear_line_off_windows() -> None:
    """On Linux and macOS a thumbprint alone throws before connecting and names the options that work there."""
    connect = module_function("Connect-ExoOAuth")
    guard = connect.index("if (-not $IsWindows)")
    assert guard < connect.index("throw ('Connect-ExchangeOnline takes -CertificateThumbprint only on Windows")
    assert guard < connect.index("$connect.CertificateThumbprint = $CertificateThumbprint")
    assert connect.index("elseif ($CertificateFilePath)") < guard


@pytest.mark.parametrize(("cloud", "environment"), [
    ("global", "O365Default"), ("usgov", "O365USGovGCCHigh"), ("usgov-dod", "O365USGovDoD"), ("china", "O365China")])
def test_scripts_connect_to_the_clouds_exchange_environment(cloud: str, environment: str) -> None:
    """-ExchangeEnvironmentName defaults to the cloud's value and is always passed to Connect-ExchangeOnline."""
    inputs = exchange_inputs("test", "11111111-2222-4333-8444-555555555555", {"a": app_only("a")},
                             ExchangeConfig(), cloud=cloud)
    for script in render_exchange_scripts(inputs).values():
        assert params(script)["ExchangeEnvironmentName"] == environment
    connect = module_function("Connect-ExoOAuth")
    assert "$connect = @{ ShowBanner = $false; ExchangeEnvironmentName = $ExchangeEnvironmentName }" in connect


def test_unknown_cloud_is_refused() -> None:
    """Only the clouds exo-oauth knows are accepted."""
    with pytest.raises(ConfigError, match=r"cloud: 'germany' is not allowed; allowed: "):
        exchange_inputs("test", "11111111-2222-4333-8444-555555555555", {}, ExchangeConfig(), cloud="germany")


@pytest.mark.parametrize(("keys", "key_path", "message"), [
    ({"organization": ORG, "appId": APP_ID, "certificateThumbprint": THUMB, "certificateFilePath": "/c.pfx"},
     "certificateFilePath", "is set together with certificateThumbprint; allowed: one of them"),
    ({"organization": ORG, "appId": APP_ID, "certificateThumbprint": THUMB, "certificatePasswordVariable": "PW"},
     "certificatePasswordVariable", "needs certificateFilePath"),
    ({"organization": ORG, "appId": APP_ID, "certificateFilePath": "/c.pfx", "certificatePasswordVariable": "s3cr3t!"},
     "certificatePasswordVariable", "is not an environment variable name"),
    ({"organization": ORG, "appId": APP_ID, "certificateFilePath": "/c.pfx\n"},
     "certificateFilePath", "holds a control character"),
    ({"certificateFilePath": "/c.pfx"}, "appId", "is required with a certificate"),
    ({"organization": ORG, "appId": APP_ID}, "certificateFilePath", "is required with appId"),
])
def test_bad_certificate_settings_are_refused_naming_the_key(keys: dict[str, Any], key_path: str,
                                                             message: str) -> None:
    """Two certificate sources, a password variable without a file, or a value as its name each fail on one line."""
    with pytest.raises(ConfigError) as raised:
        exchange(**keys)
    assert raised.value.key_path == f"exo-oauth:exchange.{key_path}"
    assert message in str(raised.value)


def test_password_variable_value_never_reaches_the_error_message() -> None:
    """A password pasted where the variable's name belongs is not echoed back."""
    with pytest.raises(ConfigError) as raised:
        exchange(organization=ORG, appId=APP_ID, certificateFilePath="/c.pfx",
                 certificatePasswordVariable="hunter2 secret")
    assert "hunter2" not in str(raised.value)


def _retried(function: str, cmdlet: str) -> bool:
    for call in calls(module_functions()[function]):
        if call.name == "Invoke-ExoOAuthRetry":
            block = call.arguments[""][-1]
            if cmdlet in {c.name for c in calls(block)}:
                return True
    return False


@pytest.mark.parametrize(("function", "cmdlet"), [
    ("Register-ExoOAuthServicePrincipal", "New-ServicePrincipal"),
    ("Grant-ExoOAuthRight", "Add-MailboxPermission"),
    ("Grant-ExoOAuthRight", "Add-RecipientPermission"),
])
def test_steps_that_wait_for_replication_run_inside_the_retry(function: str, cmdlet: str) -> None:
    """New-ServicePrincipal and the permission grants run in Invoke-ExoOAuthRetry's script block."""
    assert _retried(function, cmdlet)


def test_retry_is_bounded_and_ends_with_a_clear_message() -> None:
    """The retry waits a fixed list of delays, then throws naming the step, the attempts and what to do."""
    retry = module_text()[module_text().index("$script:ExoOAuthRetrySeconds = "):]
    assert retry.startswith("$script:ExoOAuthRetrySeconds = @(15, 30, 60, 120)\n")
    body = module_function("Invoke-ExoOAuthRetry")
    assert "foreach ($wait in @($script:ExoOAuthRetrySeconds) + @($null))" in body
    assert body.index("if ($null -eq $wait)") < body.index('throw ("$Activity still fails after') < body.index(
        "Start-Sleep -Seconds $wait")
    assert "run \" +\n                    'this script again later" in body


def test_retried_blocks_read_no_variable_the_retry_function_shadows() -> None:
    """A script block sees the caller's variables through Invoke-ExoOAuthRetry's scope, so none may share a name."""
    automatic = {"$_", "$null", "$true", "$false"}
    # PowerShell variable names ignore case.
    retry = {text(n).lower() for n in nodes(module_functions()["Invoke-ExoOAuthRetry"]) if n.type == "variable"}
    retry -= automatic
    blocks = [c.arguments[""][-1] for name in ("Register-ExoOAuthServicePrincipal", "Grant-ExoOAuthRight")
              for c in calls(module_functions()[name]) if c.name == "Invoke-ExoOAuthRetry"]
    assert len(blocks) == 2
    read = {text(n).lower() for block in blocks for n in nodes(block) if n.type == "variable"} - automatic
    assert read
    assert not read & retry, read & retry
