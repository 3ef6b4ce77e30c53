"""exo_oauth/review/changes.py: refs checked before git sees them; the base's plan read as untrusted output."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exo_oauth.review import changes
from exo_oauth.util.errors import UsageError


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


@pytest.mark.parametrize(("output", "error"), [
    ("not json", "not JSON"),
    ('{"format": 0, "stacks": {"a": {}}}', "unexpected output"),
    ('{"format": 1, "stacks": {}}', "unexpected output"),
    ('{"format": 1, "stacks": []}', "unexpected output"),
])
def test_a_digest_that_cannot_be_compared_is_one_usage_error(tmp_path: Path, output: str, error: str) -> None:
    """Another commit's plan_digest that answers in another format, or leaves a stack out, cannot be compared."""
    base = fake_base(tmp_path, "")
    (base / "exo_oauth" / "plan_digest.py").write_text(f"print({output!r})\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"^planning the base"):
        changes._digests(base, ["a"], datetime.now(UTC), "planning the base")


def test_a_base_that_cannot_be_planned_is_one_usage_error_with_its_last_line(tmp_path: Path) -> None:
    """A base tree that does not plan (here: no stack files) is one line naming the base's own error."""
    base = fake_base(tmp_path, "")
    with pytest.raises(UsageError, match=r"^planning the base failed: exo_oauth.plan_digest: no stack files"):
        changes._digests(base, ["a"], datetime.now(UTC), "planning the base")


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
    # SIGKILL is delivered when the child is next scheduled: on a loaded machine it can still show as running for a
    # moment. Wait for the state (gone, or a zombie left to init), with a deadline.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not ended(pid):
        time.sleep(0.05)
    assert ended(pid)


def ended(pid: int) -> bool:
    """Return True if the process is gone or a zombie."""
    try:
        return "Z" in Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split()[2]
    except FileNotFoundError:
        return True
