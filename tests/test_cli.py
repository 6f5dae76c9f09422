"""fipro.cli: one argparse parser, a sub-command per job, argv handed on unchanged; the exit code
is the command's, and a command loads only its own module."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fipro import cli, config

EXPECTED_COMMANDS = ("synth", "synth-levels", "dictionary", "ingest", "history", "features", "stamps", "quarters", "run", "jobs",
                     "progress", "schedule", "benchmark", "select", "export-seed", "model-report", "summary", "site", "views", "warm-jit")


def test_help_lists_every_command_with_its_help_line(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert set(cli.COMMANDS) == set(EXPECTED_COMMANDS)
    for name, command in cli.COMMANDS.items():
        assert re.search(rf"^\s+{re.escape(name)}\b", out, re.MULTILINE), name
        assert " ".join(command.help.split()[:3]) in " ".join(out.split()), name


def test_no_command_prints_the_help_and_succeeds(capsys):
    assert cli.main([]) == 0
    assert "export-seed" in capsys.readouterr().out


def test_unknown_command_exits_2_with_argparses_message(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["bogus", "--quarter", "2023q1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err and err.startswith("usage: python -m fipro")


def test_python_dash_m_fipro_is_the_same_parser():
    done = subprocess.run([sys.executable, "-m", "fipro", "--help"], capture_output=True, text=True,
                          cwd=config.PROJ_ROOT)
    assert done.returncode == 0 and all(name in done.stdout for name in EXPECTED_COMMANDS)
    bad = subprocess.run([sys.executable, "-m", "fipro", "bogus"], capture_output=True, text=True,
                         cwd=config.PROJ_ROOT)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_every_command_names_a_function_that_exists():
    for name in cli.COMMANDS:
        assert callable(cli.command_function(name)), name


def test_every_command_the_makefile_calls_exists():
    makefile = (config.PROJ_ROOT / "Makefile").read_text(encoding="utf-8")
    called = set(re.findall(r"-m fipro ([a-z][a-z-]*)", makefile))
    assert "run" in called and "progress" in called
    assert called <= set(cli.COMMANDS)


@pytest.mark.parametrize("argv", [
    ["run", "00_data_check", "--quarter", "2023q1"],
    ["run", "03_lifestage", "--quarter", "2023q1", "-p", "n", "-1", "--output-dir", "/tmp/x"],
    ["run", "--help"],
    ["jobs", "--memory-gb", "8"],
    ["jobs", "--large"],
    ["jobs", "--threads-for", "2"],
    ["progress", "start", "--total", "3", "--quarters", "2023q1 2023q2", "--jobs", "2", "--stems", "a b c",
     "--serial", ""],
    ["progress", "end"],
    ["quarters"],
    ["synth", "--scale", "sample", "--seed", "20231"],
    ["summary", "--quarter=2023q1"],
])
def test_argv_after_the_command_reaches_its_function_unchanged(argv, monkeypatch):
    seen = {}

    def fake(name):
        return lambda rest: seen.update(name=name, rest=rest) or 7

    monkeypatch.setattr(cli, "command_function", fake)
    assert cli.main(list(argv)) == 7
    assert seen == {"name": argv[0], "rest": argv[1:]}


def test_quarters_lists_the_tables_of_the_processed_dir_given(tmp_path, capsys):
    tables = tmp_path / "customer_quarter"
    tables.mkdir()
    for q in ("2023q2", "2022q4", "2023q1"):
        (tables / f"{q}.parquet").write_bytes(b"")
    assert cli.main(["quarters", "--processed-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == ["2022q4", "2023q1", "2023q2"]


def test_jobs_options_reach_the_runner(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"quarters": {"2023q1": 673_000}}))
    assert cli.main(["jobs", "--manifest", str(manifest), "--large"]) == 0
    assert capsys.readouterr().out.strip() == "1"
    assert cli.main(["jobs", "--manifest", str(manifest), "--memory-gb", "3"]) == 0
    assert capsys.readouterr().out.strip() == "1"  # 3.5 GB a job: over budget, one alone
    assert cli.main(["jobs", "--manifest", str(tmp_path / "none.json")]) == 1


def test_progress_start_and_end_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    progress = tmp_path / "progress.json"
    assert cli.main(["progress", "start", "--file", str(progress), "--total", "2", "--quarters", "2023q1"]) == 0
    assert "2개" in capsys.readouterr().out and progress.is_file()
    assert cli.main(["progress", "end", "--file", str(progress)]) == 0
    assert "결과는 여기에" in capsys.readouterr().out and not progress.exists()


def test_a_sub_commands_own_errors_keep_their_exit_codes(tmp_path, capsys):
    assert cli.main(["run", "no_such_notebook", "--quarter", "2023q1", "--output-dir", str(tmp_path)]) == 1
    assert "no_such_notebook" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # the runner's own parser: --quarter is required
        cli.main(["run", "00_data_check"])
    assert info.value.code == 2
    assert "python -m fipro run" in capsys.readouterr().err


def test_a_command_returning_none_exits_0(monkeypatch):
    monkeypatch.setattr(cli, "command_function", lambda name: lambda rest: None)
    assert cli.main(["quarters"]) == 0


def test_argv_defaults_to_the_process_command_line(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "command_function", lambda name: lambda rest: seen.append((name, rest)) or 5)
    monkeypatch.setattr(sys, "argv", ["fipro", "summary", "--quarter", "2023q1"])
    assert cli.main() == 5
    assert seen == [("summary", ["--quarter", "2023q1"])]


def test_help_after_a_command_is_that_commands_own(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["features", "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m fipro.features [-h] [--quarter QUARTER]")


def test_a_command_imports_its_own_module_only(tmp_path):
    # in a fresh interpreter: `quarters` loads neither the models nor matplotlib
    code = ("import sys; from fipro import cli; code = cli.main(['quarters', '--processed-dir', sys.argv[1]]); "
            "print(code, sorted(m for m in sys.modules if m.split('.')[:2] in (['fipro', 'lifestage'], "
            "['fipro', 'anomaly'], ['fipro', 'segments'], ['fipro', 'health'], ['fipro', 'recommend'], "
            "['fipro', 'figures'], ['matplotlib'])))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          cwd=config.PROJ_ROOT, timeout=120)
    assert (done.returncode, done.stdout) == (0, "\n0 []\n")
