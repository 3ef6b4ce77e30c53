"""A corpus of bad stack, outputs and policy files: each ends in exit 2 and one line naming the file.

Never a traceback; files saved on Windows (UTF-8 with a BOM, UTF-16 with a BOM) are read correctly.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from exo_domain.config import Mailbox
from exo_oauth.cli import main
from exo_oauth.fleet.project import load_stack
from exo_oauth.util.files import MAX_FILE_BYTES, MAX_ITEMS
from tests.exchange_factory import wire_output
from tests.stack_factory import PROJECT, REPO

VALID_STACK = (PROJECT / "stacks" / "Pulumi.contoso.yaml").read_text(encoding="utf-8")
TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT = "22222222-3333-4444-8555-666666666666"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _mailboxes(count: int) -> str:
    lines = "".join(f"        - m{i}@contoso.com\n" for i in range(count))
    return VALID_STACK.replace("      mailboxes:\n        - support@contoso.com\n", "      mailboxes:\n" + lines)


def _mailboxes_as_json_text(count: int) -> str:
    """Return the same stack with `exo-oauth:apps` as the JSON text `pulumi config set` stores."""
    document = yaml.safe_load(_mailboxes(count))
    document["config"]["exo-oauth:apps"] = json.dumps(document["config"]["exo-oauth:apps"])
    return yaml.safe_dump(document)


Maker = Callable[[Path], object]
"""Puts a bad file (or a directory, FIFO, link) at the path given."""


def text(content: str) -> Maker:
    """Write `content` as UTF-8."""
    return lambda path: path.write_text(content, encoding="utf-8")


def data(content: bytes) -> Maker:
    """Write `content` as it is."""
    return lambda path: path.write_bytes(content)


def special(kind: str) -> Maker:
    """Make a directory, FIFO or link instead of a file."""
    def make(path: Path) -> None:
        if kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink loop":
            path.symlink_to(path.name)
        elif kind == "symlink to a directory":
            path.parent.joinpath("folder").mkdir(exist_ok=True)
            path.symlink_to("folder")
        elif kind == "/dev/zero":
            path.symlink_to("/dev/zero")
    return make


FILE_KINDS: dict[str, Maker] = {kind: special(kind) for kind in
                                ("directory", "fifo", "symlink loop", "symlink to a directory", "/dev/zero")}
COMMON: dict[str, Maker] = {
    **FILE_KINDS,
    "binary": data(bytes(range(256)) * 8),
    "cp1252 byte": data("config:\n  exo-oauth:apps: B\xfcro\n".encode("cp1252")),
    "UTF-16 without a BOM": data('{"apps": {}}'.encode("utf-16-le")),
    "huge": data(b"#" * (MAX_FILE_BYTES + 1)),
    "integer over 4300 digits": text('{"a": ' + "9" * 5000 + "}"),
}

STACK_CASES: dict[str, Maker] = {
    **COMMON,
    "unhashable key": text("config:\n  ? [a, b]\n  : 1\n"),
    "integer over 4300 digits": text("config:\n  exo-oauth:x: " + "9" * 5000 + "\n"),
    "deep YAML": text("config:\n  exo-oauth:apps: " + _nested(5000) + "\n"),
    "deep JSON text in a structured key": text("config:\n  exo-oauth:apps: '" + _nested(100000) + "'\n"),
    "huge JSON integer in a structured key": text("config:\n  exo-oauth:apps: '[" + "9" * 5000 + "]'\n"),
    "config key 1": text(VALID_STACK.replace("config:\n", "config:\n  1: x\n")),
    "config key ~": text(VALID_STACK.replace("config:\n", "config:\n  ~: x\n")),
    "config key true": text(VALID_STACK.replace("config:\n", "config:\n  true: x\n")),
    "mailboxes over the limit": text(_mailboxes(MAX_ITEMS + 1)),
    "mailboxes over the limit in JSON text": text(_mailboxes_as_json_text(MAX_ITEMS + 1)),
    "empty": text(""),
    "a list": text("- a\n"),
    "config a list": text("config: []\n"),
    "tab indentation": text("config:\n\texo-oauth:apps: []\n"),
    "NUL byte": data(b"config:\n  exo-oauth:apps: a\x00b\n"),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Return a project folder with Pulumi.yaml, the program and an empty stacks/."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "stacks").mkdir()
    return tmp_path


def one_clear_line(capsys: pytest.CaptureFixture[str], status: int, names: str) -> str:
    """Assert exit 2, nothing on stdout and one stderr line that names the file; return the line."""
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert (status, out, err.count("\n")) == (2, "", 1), err
    assert names in err, err
    return err


@pytest.mark.parametrize("case", STACK_CASES)
def test_a_bad_stack_file_is_one_clear_line(case: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every corpus stack file ends in exit 2 and one line naming it."""
    STACK_CASES[case](project / "stacks" / "Pulumi.fuzz.yaml")
    status = main(["plan", "--stack", "fuzz", "--project-dir", str(project)])
    one_clear_line(capsys, status, "Pulumi.fuzz.yaml")


@pytest.mark.parametrize(("kind", "words"), [("directory", "a directory"), ("fifo", "FIFO"),
                                             ("symlink loop", "symbolic link loop"),
                                             ("symlink to a directory", "a directory"),
                                             ("/dev/zero", "character device")])
def test_a_stack_file_that_is_no_file_says_what_it_is(kind: str, words: str, project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A directory, FIFO or link loop is named as such, not "no file"."""
    FILE_KINDS[kind](project / "stacks" / "Pulumi.fuzz.yaml")
    status = main(["plan", "--stack", "fuzz", "--project-dir", str(project)])
    assert words in one_clear_line(capsys, status, "Pulumi.fuzz.yaml")


def test_a_stack_file_name_that_is_no_stack_name_is_an_error(project: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --all` refuses `Pulumi.a b.yaml` instead of skipping it."""
    (project / "stacks" / "Pulumi.good.yaml").write_text(VALID_STACK, encoding="utf-8")
    (project / "stacks" / "Pulumi.a b.yaml").write_text(VALID_STACK, encoding="utf-8")
    status = main(["plan", "--all", "--project-dir", str(project)])
    assert "not a valid stack file name" in one_clear_line(capsys, status, "Pulumi.a b.yaml")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_stack_file_saved_on_windows_reads_as_saved_in_utf8(encoding: str, project: Path) -> None:
    """UTF-8 with a BOM and UTF-16 with a BOM (PowerShell 5.1's default) read the same as plain UTF-8."""
    (project / "stacks" / "Pulumi.plain.yaml").write_text(VALID_STACK, encoding="utf-8")
    (project / "stacks" / "Pulumi.windows.yaml").write_bytes(VALID_STACK.replace("\n", "\r\n").encode(encoding))
    assert load_stack(project, "windows").raw == load_stack(project, "plain").raw


def test_a_cp1252_byte_names_its_offset_and_says_save_as_utf8(project: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """One cp1252 byte is refused with its byte offset and the fix."""
    content = VALID_STACK.replace("Contoso scanners", "B\xfcro scanners").encode("cp1252")
    (project / "stacks" / "Pulumi.fuzz.yaml").write_bytes(content)
    status = main(["plan", "--stack", "fuzz", "--project-dir", str(project)])
    line = one_clear_line(capsys, status, "Pulumi.fuzz.yaml")
    offset = content.index("\u00fc".encode("cp1252"))
    assert f"byte {offset}" in line
    assert "save it as UTF-8" in line


def _outputs(endpoint: dict[str, object] | None = None) -> str:
    """Return complete outputs of one app-only app, its IMAP endpoint replaced by `endpoint`."""
    app = wire_output("fuzz", TENANT, "app", "App", "app-only", ("imap",), (Mailbox("a@contoso.example"),))
    if endpoint is not None:
        app["endpoints"]["imap"] = {"security": "tls", **endpoint}
    return json.dumps({"tenantId": TENANT, "apps": {"app": app}, "clientSecrets": {"app": "s3cret~value"}})


OUTPUTS_CASES: dict[str, Maker] = {
    **COMMON,
    "deep JSON": text(_nested(100000)),
    "wide JSON": text(json.dumps({"apps": {"a": list(range(MAX_ITEMS + 1))}})),
    "not an object": text("[]"),
    "apps a number": text('{"apps": 5}'),
    "port 0": text(_outputs({"host": "h.example", "port": 0})),
    "port -5": text(_outputs({"host": "h.example", "port": -5})),
    "port 70000": text(_outputs({"host": "h.example", "port": 70000})),
    "port true": text(_outputs({"host": "h.example", "port": True})),
    "empty host": text(_outputs({"host": "", "port": 993})),
}


@pytest.mark.parametrize("case", OUTPUTS_CASES)
def test_a_bad_outputs_file_is_one_clear_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every corpus outputs file ends verify with exit 2 and one line naming the file, before any network."""
    path = tmp_path / "outputs.json"
    OUTPUTS_CASES[case](path)
    status = main(["verify", "--stack", "fuzz", "--outputs", str(path), "--project-dir", str(tmp_path)])
    line = one_clear_line(capsys, status, "--outputs")
    if case.startswith("port"):
        assert "apps.app.endpoints.imap.port" in line
        assert "a port from 1 to 65535" in line


def test_an_outputs_file_in_utf16_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pulumi stack output --json > f.json` in Windows PowerShell 5.1 writes UTF-16 with a BOM: read it."""
    path = tmp_path / "outputs.json"
    path.write_bytes(codecs.BOM_UTF16_LE + _outputs({"host": "h.example", "port": 0}).encode("utf-16-le"))
    status = main(["verify", "--stack", "fuzz", "--outputs", str(path), "--project-dir", str(tmp_path)])
    assert "apps.app.endpoints.imap.port: must be a TCP port; allowed: a port from 1 to 65535" in one_clear_line(
        capsys, status, "--outputs")


POLICY_CASES: dict[str, Maker] = {
    **COMMON,
    "deep JSON": text(_nested(100000)),
    "not JSON": text("credential-max-lifetime: 1"),
}


@pytest.mark.parametrize("case", POLICY_CASES)
def test_a_bad_policy_config_is_one_clear_line(case: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every corpus policy file ends plan with exit 2 and one line naming the file."""
    (project / "stacks" / "Pulumi.good.yaml").write_text(VALID_STACK, encoding="utf-8")
    path = project / "policy.json"
    POLICY_CASES[case](path)
    status = main(["plan", "--stack", "good", "--project-dir", str(project), "--policy-config", str(path)])
    one_clear_line(capsys, status, "--policy-config")
