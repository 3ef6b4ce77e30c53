"""exo_oauth/changes.py: refs checked before git sees them; the base's plan read as untrusted output."""

from __future__ import annotations

from pathlib import Path

import pytest

from exo_oauth import changes
from exo_oauth.errors import UsageError


def fake_base(tmp_path: Path, body: str) -> Path:
    """Return a base tree whose `exo_oauth.cli` (another commit's code) runs `body`."""
    package = tmp_path / "base" / "exo_oauth"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cli.py").write_text(body, encoding="utf-8")
    return package.parent


@pytest.mark.parametrize("flag", ["--base", "--changed-since"])
def test_a_ref_with_control_characters_is_refused_printable_before_git_runs(tmp_path: Path, flag: str) -> None:
    """A ref outside the ref characters is one line without escape sequences, for diff and stacks alike."""
    with pytest.raises(UsageError) as raised:
        changes.check_ref(tmp_path, "main\x1b[2J\x07`*x*`", flag)
    message = str(raised.value)
    assert message.startswith(f"{flag}: main `*x*` is not a git ref name exo-oauth accepts; allowed: ")
    assert "\x1b" not in message
    assert "\\" not in message


@pytest.mark.parametrize("output", ["not json", "[]", '{"stacks": {}}', '{"stacks": [{"stack": "a"}]}',
                                    '{"stacks": [{"stack": "a", "outputs": {"apps": []}}]}'])
def test_unexpected_output_of_the_base_plan_is_one_usage_error(tmp_path: Path, output: str) -> None:
    """The base's plan is another commit's code: output that is not its JSON report is named, not a traceback."""
    base = fake_base(tmp_path, f"print({output!r})\n")
    with pytest.raises(UsageError, match=r"^planning the base: "):
        changes._plan_base(base, ["contoso"])


def test_the_base_plan_reads_each_stacks_apps(tmp_path: Path) -> None:
    """The base plan's report becomes each stack's apps (none when the stack has no apps output)."""
    report = '{"stacks": [{"stack": "a", "outputs": {"apps": {"x": 1}}}, {"stack": "b", "outputs": {}}]}'
    base = fake_base(tmp_path, f"print({report!r})\n")
    assert changes._plan_base(base, ["a", "b"]) == {"a": {"x": 1}, "b": {}}


def test_a_base_plan_that_never_ends_is_killed_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A base plan past its time limit is killed with its process group and reported in one line."""
    marker = tmp_path / "child-pid"
    base = fake_base(tmp_path, "import os, subprocess, sys, time\n"
                     "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
                     f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
                     "time.sleep(600)\n")
    monkeypatch.setattr(changes, "BASE_PLAN_TIMEOUT_SECONDS", 3)
    with pytest.raises(UsageError, match=r"^planning the base: no answer within 3 s; allowed: "):
        changes._plan_base(base, ["contoso"])
    pid = int(marker.read_text(encoding="utf-8"))
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
