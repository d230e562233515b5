"""README is the truth: every command in its shell blocks runs as written (in a scratch folder laid
out like a checkout), and every `--help` has a description and shows the defaults the library uses."""

from __future__ import annotations

import argparse
import glob
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, headless_env

README = ROOT / "README.md"
BIN = Path(sys.executable).parent
CWD = ["."]  # where globs in README's commands are expanded (the scratch checkout)


def shell_commands(text: str) -> list[str]:
    """The command lines of README's ```sh blocks (comments and continuation lines joined)."""
    out: list[str] = []
    lang = None
    pending = ""
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\w*)", line)
        if fence:
            lang = None if lang is not None else (fence.group(1) or "text")
            continue
        if lang not in ("sh", "bash"):
            continue
        code = line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not code:
            continue
        if code.endswith("\\"):
            pending += code[:-1] + " "
            continue
        out.append((pending + code).strip())
        pending = ""
    return out


COMMANDS = shell_commands(README.read_text())

# Login-service set-up for other platforms and init systems: shown, not run here.
NOT_RUN = {"systemctl", "journalctl", "launchctl", "schtasks"}

# What needs hardware this machine does not have: the command is run and must fail in one line.
NO_HARDWARE = {"trackheat live --webcam": "camera 0 cannot be opened"}


def adapt(cmd: str) -> tuple[list[str], int, str]:
    """The command as run here: argv, the exit status it must give, and what stderr must say.

    Only what cannot run unattended is changed: a recorder stops after a second, a live window
    after a few frames, a background `&` runs in the foreground."""
    cmd = cmd.removesuffix("&").strip()
    argv = shlex.split(cmd)
    argv = [m for a in argv for m in (sorted(glob.glob(a, root_dir=CWD[0])) or [a] if any(c in a for c in "*?[") else [a])]
    if argv[0] == "trackheat":
        argv[0] = str(BIN / "trackheat")
    status, says = 0, ""
    if cmd in NO_HARDWARE:
        return argv, 2, NO_HARDWARE[cmd]
    if argv[1:2] == ["record"] and "--status" not in argv:
        argv += ["--duration", "1"]
    if argv[1:2] == ["record"] and "--status" in argv or argv[1:2] == ["stop"]:
        status = 1  # no recorder runs (the README's ones stopped by themselves here): status 1
    if argv[1:2] == ["live"] and "--max-frames" not in argv:
        argv += ["--max-frames", "8"]
    return argv, status, says


def test_readme_commands_name_real_subcommands():
    names = set(_subparsers())
    shown = {c.split()[1] for c in COMMANDS if c.startswith("trackheat ")}
    assert shown and shown <= names, shown - names


@pytest.mark.display
def test_every_readme_command_runs_as_written(tmp_path, xvfb):
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "sample_logs").symlink_to(ROOT / "sample_logs")
    (work / "Makefile").symlink_to(ROOT / "Makefile")
    (tmp_path / "shared").symlink_to(SHARED.parent)  # ../shared/data beside the checkout
    env = dict(xvfb.env)
    env["TRACKHEAT_DB"] = str(work / "default.db")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    failures = []
    CWD[0] = str(work)
    for cmd in COMMANDS:
        if cmd.startswith("pip install ") and "&& " in cmd:
            cmd = cmd.split("&& ", 1)[1]  # the extra is installed here already
        if cmd.split()[0] in NOT_RUN or cmd.startswith(("make test", "make bench")):
            continue  # the suite itself, the benchmarks, and the platforms' service managers
        if cmd.startswith("make demo"):
            argv, status, says = ["make", "--no-print-directory", "demo", f"BIN={BIN}", "STAMP="], 0, ""
        elif cmd.startswith("trackheat "):
            argv, status, says = adapt(cmd)
        else:
            failures.append(f"{cmd}: not a command this test knows how to run (add it to NOT_RUN if it is a platform's)")
            continue
        if argv[1:2] == ["view"]:  # a server: it must print its URL, then it is stopped
            failures += _serves(argv + ["--no-browser"], work, env, cmd)
            continue
        p = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        ok = p.returncode == status and says in p.stderr and "Traceback" not in p.stderr
        if not ok:
            failures.append(f"{cmd}\n  exit {p.returncode} (expected {status})\n  {p.stderr.strip()[-400:]}")
    assert not failures, "\n".join(failures)
    assert (work / "out" / "demo.db").exists()


def _serves(argv: list[str], cwd: Path, env: dict, cmd: str) -> list[str]:
    import select

    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout, proc.stderr], [], [], 60)
        line = proc.stdout.readline() if proc.stdout in ready else ""
        return [] if "http://127.0.0.1:" in line else [f"{cmd}\n  printed no local URL: {line or proc.stderr.readline()!r}"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    from trackheat.cli import build_parser

    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_help_has_a_description_and_its_defaults():
    for name, p in _subparsers().items():
        assert p.description and len(p.description) > 40, f"`trackheat {name} --help` has no description"
        for a in p._actions:
            if not a.option_strings or a.help in (None, argparse.SUPPRESS) or a.dest == "help":
                continue
            if a.default in (None, False, []) or isinstance(a, (argparse._StoreTrueAction, argparse._AppendAction)):
                continue
            shown = argparse.HelpFormatter("x")._expand_help(a)
            value = f"{a.default:g}" if isinstance(a.default, float) else str(a.default)
            assert "default" in shown and value in shown, f"trackheat {name} {a.option_strings[0]}: help does not show its default {value!r}: {shown!r}"


def test_help_texts_say_what_the_program_does():
    subs = _subparsers()
    live = subs["live"].format_help()
    assert not any(a.dest == "db" for a in subs["live"]._actions) and "C loop" in live
    gaze_db = [a for a in subs["gaze"]._actions if a.dest == "db"][0].help
    assert "TRACKHEAT_DB" not in gaze_db and "nothing is stored" in gaze_db  # it draws from memory: no temporary store either
    readme = README.read_text()
    assert "reference_image.jpeg" in readme
    for spelling in ("--session 1,2", "1-2", "--monitor all"):
        assert spelling in readme, spelling
    assert "Every command takes `--db" not in readme


def test_help_works_for_every_subcommand():
    for name in _subparsers():
        p = subprocess.run([str(BIN / "trackheat"), name, "--help"], capture_output=True, text=True, env=headless_env(), timeout=60)
        assert p.returncode == 0 and p.stdout.startswith(f"usage: trackheat {name}"), (name, p.stderr)
