"""jaxpg.run.readme: how the README's regenerated examples are cut and read."""

import pytest

from jaxpg.run import readme

OUTPUT = """\
preset: tuned for ppo on CartPole-v1
compiled in 32.1 s (3 programs); persistent cache cold: 4 programs compiled
update  10/300 | env steps 5,120 | 38,345 steps/s | return 136.0
evaluation at update 20: greedy return 448.8
update  40/300 | env steps 20,480 | 44,681 steps/s | return 379.8
evaluation at update 40: greedy return 463.6
evaluation at update 60: greedy return 415.7
update  70/300 | env steps 35,840 | 44,676 steps/s | return 413.3
evaluation at update 80: greedy return 500.0
update 300/300 | env steps 153,600 | 41,224 steps/s | return 500.0
evaluation over 100 greedy episodes x 4 seeds: return 500.0
wall time 52.6 s
"""


def test_thin_keeps_the_first_and_last_progress_lines_and_every_evaluation():
    assert readme.thin(OUTPUT).splitlines() == [
        "preset: tuned for ppo on CartPole-v1",
        "compiled in 32.1 s (3 programs); persistent cache cold: 4 programs compiled",
        "update  10/300 | env steps 5,120 | 38,345 steps/s | return 136.0",
        "evaluation at update 20: greedy return 448.8",
        "...",
        "evaluation at update 40: greedy return 463.6",
        "evaluation at update 60: greedy return 415.7",
        "...",
        "evaluation at update 80: greedy return 500.0",
        "update 300/300 | env steps 153,600 | 41,224 steps/s | return 500.0",
        "evaluation over 100 greedy episodes x 4 seeds: return 500.0",
        "wall time 52.6 s",
    ]


def test_thin_can_drop_evaluations_after_the_first_few():
    lines = readme.thin(OUTPUT, evaluations=2).splitlines()
    assert lines[3:8] == [
        "evaluation at update 20: greedy return 448.8",
        "...",
        "evaluation at update 40: greedy return 463.6",
        "...",
        "update 300/300 | env steps 153,600 | 41,224 steps/s | return 500.0",
    ]
    # The final evaluation is no progress line: it stays.
    assert "evaluation over 100 greedy episodes" in lines[8]


def test_thin_leaves_out_omitted_lines_without_a_gap_marker():
    omit = ("update ", "compiled in", "wall time")
    assert readme.thin(OUTPUT, evaluations=3, omit=omit).splitlines() == [
        "preset: tuned for ppo on CartPole-v1",
        "evaluation at update 20: greedy return 448.8",
        "evaluation at update 40: greedy return 463.6",
        "evaluation at update 60: greedy return 415.7",
        "...",
        "evaluation over 100 greedy episodes x 4 seeds: return 500.0",
    ]


def test_thin_leaves_an_output_with_two_progress_lines_alone():
    text = "a\nupdate 10/20 | x\nupdate 20/20 | y\nb"
    assert readme.thin(text + "\n") == text


def test_mark_interrupt_puts_ctrl_c_after_the_line_and_drops_the_terminal_newline():
    lines = ["header", "update  10/600 | x", "", "SIGINT received: ...", "", "end"]
    assert readme.mark_interrupt(lines, 1) == [
        "header",
        "update  10/600 | x",
        "^C",
        "SIGINT received: ...",
        "",
        "end",
    ]


def test_numbers_and_lines_are_read_back():
    assert readme.number_after(OUTPUT, "compiled in") == 32.1
    assert readme.number_after(OUTPUT, "wall time") == 52.6
    assert readme.number_after(OUTPUT, "env steps") == 5120
    stopped = "SIGINT: stopped after update 20/600 and saved a checkpoint"
    assert readme.number_after(stopped, "stopped after update") == 20
    assert readme.line_with(OUTPUT, "persistent cache").startswith("compiled in 32.1")
    with pytest.raises(ValueError, match="no number after 'resuming at'"):
        readme.number_after(OUTPUT, "resuming at")
    with pytest.raises(ValueError, match="no line with"):
        readme.line_with(OUTPUT, "SIGINT")


@pytest.mark.timeout(60)
def test_interrupt_on_signals_at_the_line_and_reports_the_exit_status(tmp_path):
    # A child that prints a line, then waits for SIGINT and says it got it.
    script = tmp_path / "child.py"
    script.write_text(
        "import signal, sys, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
        "print('before')\n"
        "print('update  10/600 | x', flush=True)\n"
        "while not got:\n"
        "    time.sleep(0.01)\n"
        "print('\\nSIGINT received', file=sys.stderr)\n"
        "sys.exit(130)\n"
    )
    out, status = readme.interrupt_on(tmp_path, ["child.py"], tmp_path, {}, "update ")
    assert status == 130
    assert out.splitlines() == ["before", "update  10/600 | x", "^C", "SIGINT received"]


@pytest.mark.timeout(60)
def test_interrupt_on_refuses_a_run_without_the_line(tmp_path):
    (tmp_path / "child.py").write_text("print('no progress here')\n")
    with pytest.raises(RuntimeError, match="no line starting with 'update '"):
        readme.interrupt_on(tmp_path, ["child.py"], tmp_path, {}, "update ")


def test_run_script_raises_with_the_stderr_of_a_failed_script(tmp_path):
    (tmp_path / "fail.py").write_text("import sys\nsys.exit('broken: X')\n")
    with pytest.raises(RuntimeError, match="broken: X"):
        readme.run_script(tmp_path, ["fail.py"], tmp_path, {})
    (tmp_path / "ok.py").write_text("print('fine')\n")
    assert readme.run_script(tmp_path, ["ok.py"], tmp_path, {}) == "fine\n"
