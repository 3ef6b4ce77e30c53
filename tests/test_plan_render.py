import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exo_oauth.cli import main
from exo_oauth.policy.rules import evaluate
from exo_oauth.review.access_diff import render_markdown as diff_markdown
from exo_oauth.review.access_diff import stack_entry
from exo_oauth.util.days import days_until, parse_time
from tests.certificates import make_certificate_pem
from tests.stack_factory import app, project, raw_config


def plan_text(capsys: pytest.CaptureFixture[str], folder: Path, fmt: str = "text") -> str:
    """Run `exo-oauth plan --all` in `folder` and return what it printed."""
    main(["plan", "--project-dir", str(folder), "--all", "--format", fmt])
    return capsys.readouterr().out


def test_day_count_is_whole_utc_calendar_days_not_a_floored_timedelta() -> None:
    """An end 180 calendar days ahead, reached a few seconds early, counts 180 (a timedelta's .days says 179)."""
    now = parse_time("2026-11-28T10:00:05Z")
    end = parse_time("2027-05-27T10:00:00Z")
    assert days_until(end, now) == 180
    assert days_until(parse_time("2026-11-29T00:00:00+01:00"), now) == 0
    assert days_until(parse_time("2026-11-27T23:59:59"), now) == -1


@pytest.mark.parametrize(("end", "said"), [
    ("2026-12-08T10:00:00Z", "expires on 2026-12-08, in 10 days;"),
    ("2026-11-29T09:00:00Z", "expires on 2026-11-29, in 1 day;"),
])
def test_policy_warning_counts_days_the_same_way(end: str, said: str) -> None:
    """The expiry warning's "in N days" agrees with its date, whatever the time of day, and one day is "1 day"."""
    now = parse_time("2026-11-28T10:00:05Z")
    secret = {"type": "azuread:index/applicationPassword:ApplicationPassword", "name": "s", "urn": "u",
              "inputs": {"endDate": end}}
    messages = [v.message for v in evaluate([secret], now)]
    assert any(said in m for m in messages), messages


def test_text_plan_shows_certificate_expiry_and_warns_it_ends_before_the_rotation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A certificate ending in 20 days: its line shows the expiry, the rotation line says it ends first."""
    # Noon UTC, 20 calendar days ahead: "in 20 days" at any time of day the test runs.
    not_after = (datetime.now(UTC) + timedelta(days=20)).replace(hour=12, minute=0, second=0, microsecond=0)
    pem = make_certificate_pem(not_after)
    folder = project(tmp_path, t=raw_config(app(name="c", credential={"type": "certificate", "publicKeyPem": pem})))
    out = plan_text(capsys, folder)
    end = f"{not_after:%Y-%m-%d}"
    rotating = next(line for line in out.splitlines() if "Rotating" in line)
    assert "next secret" not in rotating
    assert f"registers the certificate again after 150 days, but the certificate ends first: {end} (in 20 days)" \
        in rotating
    certificate = next(line for line in out.splitlines() if "ApplicationCertificate" in line)
    assert certificate.endswith(f"expires {end} (in 20 days)")
    assert f"credential: certificate, expires {end} (in 20 days)" in out


def test_text_plan_of_a_secret_counts_calendar_days_to_its_end_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each planned secret line shows its end date and the whole calendar days to it, the count days.py gives."""
    out = plan_text(capsys, project(tmp_path, t=raw_config(app(name="s"))))
    lines = re.findall(r"ApplicationPassword +s-secret-[ab]  expires (\d{4}-\d\d-\d\d) \(in (\d+) days\)\n", out)
    assert lines
    for end, days in lines:
        assert int(days) == days_until(parse_time(f"{end}T12:00:00Z"), datetime.now(UTC))
    assert "Rotating" not in out  # secrets follow a fixed schedule (docs/decisions/0032), no rotation clock


def test_policy_verdict_is_said_once_in_text_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """"Policy: all rules pass", never "Policy: policy: ..."."""
    folder = project(tmp_path, t=raw_config(app(name="s")))
    assert "\n  policy: all rules pass\n" in plan_text(capsys, folder)
    markdown = plan_text(capsys, folder, "markdown")
    assert "\nPolicy: all rules pass\n" in markdown
    assert "olicy: policy" not in markdown


def test_plan_and_diff_markdown_bring_no_heading_above_level_four(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both are pasted under the review comment's `###` headings, so their own headings start at `####`."""
    markdown = plan_text(capsys, project(tmp_path, t=raw_config(app(name="s"))), "markdown")
    markdown += diff_markdown("main", [stack_entry("t", None, {})])
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings
    assert all(line.startswith("#### ") for line in headings), headings


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_every_policy_line_names_the_app_the_resource_and_the_stack_key(
        fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two apps breaking rules in the same way give lines that differ by app, resource and key, not only by date."""
    not_after = (datetime.now(UTC) + timedelta(days=20)).replace(hour=12, minute=0, second=0, microsecond=0)
    certificate = {"type": "certificate", "publicKeyPem": make_certificate_pem(not_after)}
    folder = project(tmp_path, t=raw_config(
        app(name="cert-one", credential=certificate), app(name="cert-two", credential=certificate),
        app(name="long", credential={"type": "secret", "lifetimeDays": 365})))
    assert main(["plan", "--project-dir", str(folder), "--all", "--format", fmt]) == 3  # a mandatory rule fails
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if re.search(r"olicy (advisory|mandatory):", line)]
    source = "stacks/Pulumi.t.yaml: exo-oauth"
    expected = {("credential-expires-soon", "app cert-one, cert-one-cert", f"{source}:apps[0].credential"),
                ("credential-expires-soon", "app cert-two, cert-two-cert", f"{source}:apps[1].credential"),
                ("credential-max-lifetime", "app long, long-secret-a", f"{source}:apps[2].credential.lifetimeDays")}
    # The markdown escapes punctuation (exo_oauth/review/markdown.py); read it back as text.
    plain = [re.sub(r"\\(.)", r"\1", line) for line in lines]
    found = {(policy, named, key) for policy, named, key in expected
             if any(f"[{policy}] {named} ({key}):" in line for line in plain)}
    assert found == expected, lines
    assert len(lines) == len(expected)
