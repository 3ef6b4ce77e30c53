"""`exo-oauth diff`: per tenant, who gains or loses access between a git ref and the working tree."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exo_oauth.cli import main
from exo_oauth.review import changes
from exo_oauth.review.access_diff import diff_apps, render_markdown
from exo_oauth.review.changes import stacks_to_plan
from tests.stack_factory import REPO, app, raw_config

EXO = "Office365ExchangeOnline"


def git(folder: Path, *argv: str) -> None:
    """Run git in `folder` as a throwaway identity; fail the test if git fails."""
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *argv], cwd=folder, check=True,
                   capture_output=True)


def write_stack(folder: Path, name: str, raw: dict[str, Any]) -> None:
    """Write stacks/Pulumi.<name>.yaml with `raw` as its config."""
    (folder / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": raw}), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Return a git repo holding this project's code and two stacks, committed once."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, tmp_path / name)
    for package in ("exo_domain", "components", "exo_oauth"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "stacks").mkdir()
    write_stack(tmp_path, "contoso", raw_config(
        app(name="scanners", protocols=["smtp"], mailboxes=["scan@contoso.com"]),
        app(name="helpdesk", protocols=["imap", "pop"], mailboxes=["support@contoso.com"]),
        app(name="old-name", protocols=["imap"], mailboxes=["archive@contoso.com"]),
    ))
    write_stack(tmp_path, "untouched", raw_config(app(name="other", protocols=["smtp"], mailboxes=["x@contoso.com"])))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def test_diff_reports_mailbox_added_protocol_removed_and_app_renamed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second commit that adds a mailbox, drops POP and renames an app shows exactly those access changes."""
    write_stack(repo, "contoso", raw_config(
        app(name="scanners", protocols=["smtp"],
            mailboxes=["scan@contoso.com", {"address": "front@contoso.com", "sendAs": True}]),
        app(name="helpdesk", protocols=["imap"], mailboxes=["support@contoso.com"]),
        app(name="new-name", protocols=["imap"], mailboxes=["archive@contoso.com"]),
    ))
    git(repo, "commit", "-q", "-am", "change access")
    assert main(["diff", "--project-dir", str(repo), "--base", "HEAD~1", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["stack"] for s in result["stacks"]] == ["contoso"]
    changes = {(c["kind"], c["app"], c["detail"]) for c in result["stacks"][0]["changes"]}
    assert changes == {
        ("mailbox-access-added", "scanners", "front@contoso.com: FullAccess"),
        ("mailbox-access-added", "scanners", "front@contoso.com: SendAs"),
        ("permission-removed", "helpdesk", "Office 365 Exchange Online POP.AccessAsApp"),
        ("app-renamed", "new-name", "old-name -> new-name: same access, but a new app registration and client id; "
                                    "clients need the new id and credential"),
        ("secret-replaced", "new-name", "this deploy replaces the secret devices use now (the app is renamed from "
                                        "old-name): they stop signing in until they get the new "
                                        "clientSecrets.new-name"),
        # A rename is a new app: the deploy takes the old one's Exchange rights and service principal back.
        ("exchange-revoked", "old-name", "the deploy revokes FullAccess on archive@contoso.com"),
        ("exchange-revoked", "old-name", "the deploy revokes its Exchange service principal"),
    }


def test_diff_of_uncommitted_new_stack_shows_it_added(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An untracked new stack file counts as a change: its apps show as added."""
    write_stack(repo, "fabrikam", raw_config(app(name="clients", flow="delegated", protocols=["imap"],
                                                 publicClient=True, credential={"type": "none"})))
    assert main(["diff", "--project-dir", str(repo), "--base", "HEAD", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "#### fabrikam (added)" in out
    assert ("➕ app added `clients`: delegated: Microsoft Graph offline\\_access, Microsoft Graph openid, Microsoft "
            "Graph profile, Office 365 Exchange Online IMAP.AccessAsUser.All") in out
    assert "untouched" not in out


def test_the_base_tree_holds_the_program_and_only_the_stacks_to_plan(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One changed stack unpacks the program and that stack's files at the base, not the rest of the fleet."""
    (repo / "stacks" / "Pulumi.contoso.import.json").write_text("{}", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "adopted")
    write_stack(repo, "contoso", raw_config(app(name="scanners", protocols=["smtp"], mailboxes=["new@contoso.com"])))
    unpacked: dict[str, list[str]] = {}

    def base_plan(base_dir: Path, stacks: list[str]) -> dict[str, Any]:
        unpacked["top"] = sorted(p.name for p in base_dir.iterdir())
        unpacked["stacks"] = sorted(p.name for p in (base_dir / "stacks").iterdir())
        unpacked["planned"] = stacks
        return {}

    monkeypatch.setattr(changes, "_plan_base", base_plan)
    assert main(["diff", "--project-dir", str(repo), "--base", "HEAD", "--format", "json"]) == 0
    assert unpacked == {"top": ["Pulumi.yaml", "__main__.py", "components", "exo_domain", "exo_oauth", "stacks"],
                        "stacks": ["Pulumi.contoso.import.json", "Pulumi.contoso.yaml"], "planned": ["contoso"]}


def test_diff_of_a_project_in_a_subfolder_of_its_repository(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The project need not be the repository's root: the base is read from the project's own folder."""
    project = tmp_path / "infra"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    for package in ("exo_domain", "components", "exo_oauth"):
        shutil.copytree(REPO / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "stacks").mkdir()
    write_stack(project, "contoso", raw_config(app(name="scanners", protocols=["smtp"], mailboxes=["a@contoso.com"])))
    (tmp_path / "stacks").mkdir()  # a folder of the same name above the project is not the project's
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    write_stack(project, "contoso", raw_config(app(name="scanners", protocols=["imap", "smtp"],
                                                   mailboxes=["a@contoso.com"])))
    assert main(["diff", "--project-dir", str(project), "--base", "HEAD", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(s["stack"], [c["kind"] for c in s["changes"]]) for s in result["stacks"]] == [
        ("contoso", ["permission-added"])]


def test_diff_with_unknown_ref_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A base ref git does not know is bad input: exit 2, one line naming the ref and what to do."""
    assert main(["diff", "--project-dir", str(repo), "--base", "no-such-ref"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--base 'no-such-ref': no such commit" in err
    assert "git fetch" in err


def test_only_changed_stacks_are_planned_unless_code_changed() -> None:
    """Stack-file changes plan just those stacks; a change to the program plans every stack on both sides."""
    stacks = {"a", "b", "c"}
    assert stacks_to_plan(["stacks/Pulumi.b.yaml", "README.md"], stacks, stacks) == ["b"]
    assert stacks_to_plan(["components/mail_app.py"], {"a", "b"}, {"b", "c"}) == ["a", "b", "c"]
    assert stacks_to_plan(["tests/test_x.py", ".github/workflows/pr.yml"], stacks, stacks) == []


def test_credential_change_and_removed_app_are_reported() -> None:
    """Switching a secret to a certificate and deleting an app both appear in the diff."""
    def summary(name: str, credential: str, end: str | None) -> dict[str, Any]:
        return {"name": name, "flow": "app-only", "permissions": [{"api": EXO, "name": "SMTP.SendAsApp"}],
                "mailboxes": [{"address": "a@contoso.com", "sendAs": False}],
                "credential": {"type": credential, "endDate": end}}

    base = {"a": summary("a", "secret", "2027-05-27T00:00:00Z"), "gone": summary("gone", "secret", None)}
    base["gone"]["permissions"] = [{"api": EXO, "name": "IMAP.AccessAsApp"}]
    head = {"a": summary("a", "certificate", "2027-11-01T00:00:00Z")}
    kinds = [(c.kind, c.app, c.detail) for c in diff_apps(base, head)]
    assert ("credential-changed", "a", "secret, expires 2027-05-27 -> certificate, expires 2027-11-01") in kinds
    assert ("app-removed", "gone", "app-only: Office 365 Exchange Online IMAP.AccessAsApp — a@contoso.com: "
            "FullAccess") in kinds


def test_markdown_escapes_names_from_the_stack_file() -> None:
    """Details are escaped, so a crafted address or ref cannot inject markup into the PR comment."""
    out = render_markdown("main<script>", [{"stack": "t", "status": "changed", "changes": [
        {"kind": "mailbox-access-added", "app": "a", "detail": "<img src=x>@contoso.com: FullAccess"}]}])
    assert "<script>" not in out
    assert "<img" not in out


def secret_app(**credential: Any) -> dict[str, Any]:
    """Return an app's `apps.<name>` summary with a secret, the given credential keys overriding the defaults."""
    return {"name": "scanners", "flow": "app-only", "permissions": [{"api": EXO, "name": "SMTP.SendAsApp"}],
            "mailboxes": [], "credential": {"type": "secret", "endDate": "2027-05-27T00:00:00Z", "lifetimeDays": 180,
                                            "rotateBeforeDays": 30} | credential}


@pytest.mark.parametrize(("change", "why"), [
    ({"lifetimeDays": 90, "endDate": "2027-02-26T00:00:00Z"}, "lifetimeDays 180 -> 90"),
    ({"rotateBeforeDays": 14}, "rotateBeforeDays 30 -> 14"),
    ({"type": "certificate", "lifetimeDays": 180}, "the credential type changes from secret to certificate"),
])
def test_a_change_that_replaces_the_live_secret_is_named_per_app(change: dict[str, Any], why: str) -> None:
    """lifetimeDays, rotateBeforeDays and the credential type each replace the secret devices use: said, with why."""
    changes = [(c.kind, c.app, c.detail) for c in diff_apps({"scanners": secret_app()},
                                                            {"scanners": secret_app(**change)})]
    assert ("secret-replaced", "scanners", f"this deploy replaces the secret devices use now ({why}): they stop "
            "signing in until they get the new clientSecrets.scanners") in changes


def test_an_unchanged_schedule_replaces_no_secret_and_old_outputs_fall_back_to_the_end_date() -> None:
    """Same schedule: no replacement. A base planned before the schedule keys existed is judged by the end date."""
    assert diff_apps({"scanners": secret_app()}, {"scanners": secret_app()}) == []
    old = secret_app()
    del old["credential"]["lifetimeDays"], old["credential"]["rotateBeforeDays"]
    assert [c.kind for c in diff_apps({"scanners": old}, {"scanners": secret_app()})] == []
    moved = [c.detail for c in diff_apps({"scanners": old}, {"scanners": secret_app(endDate="2027-12-01T00:00:00Z")})
             if c.kind == "secret-replaced"]
    assert moved == ["this deploy replaces the secret devices use now (the secret's schedule changes): they stop "
                     "signing in until they get the new clientSecrets.scanners"]


def test_replaced_secret_shows_in_the_markdown_the_review_comment_embeds() -> None:
    """The pull request's comment carries the diff's markdown: the replacement is a line of its own, with the app."""
    entry = {"stack": "contoso", "status": "changed", "changes": [
        {"kind": c.kind, "app": c.app, "detail": c.detail}
        for c in diff_apps({"scanners": secret_app()}, {"scanners": secret_app(rotateBeforeDays=14)})]}
    out = render_markdown("main", [entry])
    assert "- ⚠️ live secret replaced `scanners`: this deploy replaces the secret devices use now" in out
def test_review_says_what_the_deploy_revokes_in_exchange_for_a_dropped_mailbox() -> None:
    """A mailbox and a SendAs taken out of an app show as Exchange revocations, in the markdown of the comment."""
    def outputs(*boxes: tuple[str, bool]) -> dict[str, Any]:
        return {"flow": "app-only", "permissions": [], "credential": {"type": "none"},
                "clientId": "c", "servicePrincipalObjectId": "s",
                "mailboxes": [{"address": a, "sendAs": send_as} for a, send_as in boxes]}

    base = {"scan": outputs(("a@contoso.com", True), ("b@contoso.com", True))}
    head = {"scan": outputs(("a@contoso.com", False))}
    revoked = [(c.app, c.detail) for c in diff_apps(base, head) if c.kind == "exchange-revoked"]
    assert revoked == [("scan", "the deploy revokes SendAs on a@contoso.com"),
                       ("scan", "the deploy revokes FullAccess on b@contoso.com"),
                       ("scan", "the deploy revokes SendAs on b@contoso.com")]
    entry = {"stack": "t", "status": "changed", "changes": [c.__dict__ for c in diff_apps(base, head)]}
    markdown = render_markdown("main", [entry]).replace("<span>@</span>", "@")  # the escaper stops mentions
    assert "- 🚫 Exchange revokes `scan`: the deploy revokes FullAccess on b@contoso.com\n" in markdown
