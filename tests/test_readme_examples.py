"""The README as a new user reads it: `scripts/serve`, then every curl example, in order.

Runs the real script in a copy of the checkout (its scripts/, dialogs/ and
pyproject.toml, with this run's virtualenv linked in) so that it can check that
trying the README leaves the tracked dialogs/ as they were.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fixtures_api import free_port, stop_process, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"


def readme_curl_commands() -> list[str]:
    """The README's curl examples (continuation lines joined), in order."""
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "curl " in b)
    commands: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.startswith("curl "):
            commands.append(line.strip())
        elif commands and line.strip():  # a quoted argument that goes on (the -d JSON)
            commands[-1] += "\n" + line.strip()
    return commands


def _installed_venv() -> Path:
    """This run's virtualenv, when scripts/bootstrap installed the current pyproject.toml.

    Otherwise the copied scripts/serve would install into it from the copy: never.
    """
    venv = Path(sys.prefix)
    digest = hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if not (venv / f".installed-{digest}").exists() or not (venv / "bin" / "dialogsearch").exists():
        message = f"{venv} does not hold this pyproject.toml's install (run scripts/bootstrap)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return venv


def _tree_differences(left: Path, right: Path) -> list[str]:
    compared = filecmp.dircmp(left, right)
    found = [f"{left.name}/{name}" for name in compared.left_only + compared.right_only]
    found += [f"{left.name}/{name}" for name in compared.diff_files]
    for name in compared.subdirs:
        found += [f"{left.name}/{d}" for d in _tree_differences(left / name, right / name)]
    return found


class ScriptServer:
    """`scripts/serve --port P` running in a copy of the checkout."""

    def __init__(self, checkout: Path) -> None:
        self.checkout = checkout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = checkout / "serve.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGSEARCH_")}
        self.process = subprocess.Popen(
            ["scripts/serve", "--port", str(self.port), "--threads", "2"],
            cwd=checkout,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: "serving on" in self.log() or self.process.poll() is not None, 90)
            assert self.process.poll() is None, self.log()
        except BaseException:
            self.stop()  # no process or log file left open behind a failed start
            raise

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def token(self) -> str:
        return re.search(r"API token for writes \(shown once\): (\S+)", self.log()).group(1)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


@pytest.fixture
def script_server(tmp_path: Path) -> Iterator[ScriptServer]:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("scripts", "dialogs"):
        shutil.copytree(REPO_ROOT / name, checkout / name)
    shutil.copy2(REPO_ROOT / "pyproject.toml", checkout / "pyproject.toml")
    (checkout / ".venv").symlink_to(_installed_venv())
    server = ScriptServer(checkout)
    yield server
    server.stop()


def test_the_readme_has_curl_examples_for_every_endpoint_kind() -> None:
    commands = readme_curl_commands()
    assert len(commands) >= 12
    for method in ("POST", "PUT", "DELETE"):
        assert any(f"-X {method}" in command for command in commands), method


@pytest.mark.slow
def test_readme_examples_answer_usefully_and_leave_the_checkout_clean(
    script_server: ScriptServer,
) -> None:
    checkout = script_server.checkout
    assert (checkout / "var" / "dialogs").is_dir(), script_server.log()
    env = {**os.environ, "TOKEN": script_server.token()}
    answers = []
    for command in readme_curl_commands():
        local = command.replace("http://127.0.0.1:8000", script_server.url)
        body = checkout / "answer.json"
        result = subprocess.run(
            f"{local} -s -o {body} -w '%{{http_code}}'",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        status = int(result.stdout or 0)
        text = body.read_text(encoding="utf-8")
        assert 200 <= status < 300, (command, status, text[:300])
        answers.append((command, text))
        if "/search?" in command or "/entries?" in command:
            assert '"total":0,' not in text.replace(" ", ""), (command, text[:300])
            assert '"hits":[]' not in text.replace(" ", ""), (command, text[:300])
    assert len(answers) == len(readme_curl_commands())
    # The writes went to the working copy, not to the tracked files.
    assert (checkout / "var" / "dialogs" / "api_dialog.md").exists()
    assert not (checkout / "dialogs" / "api_dialog.md").exists()
    assert _tree_differences(checkout / "dialogs", REPO_ROOT / "dialogs") == []
    assert _tree_differences(checkout / "var" / "dialogs", REPO_ROOT / "dialogs") != []
