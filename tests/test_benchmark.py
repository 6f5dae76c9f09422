"""The benchmark's result shape and its issue-23 checks (the timings themselves are the benchmark's job)."""

from __future__ import annotations

from fipro import benchmark


def _row(quarter, notebook, seconds):
    return {"quarter": quarter, "notebook": notebook, "seconds": seconds}


def test_notebook_budgets_flag_slow_model_notebooks_and_growth_with_earlier_quarters():
    rows = [_row("2022q2", "04_anomaly", 50.0), _row("2023q4", "04_anomaly", 61.0),   # 1.22x: not flat
            _row("2022q2", "06_health_score", 80.0), _row("2023q4", "06_health_score", 91.0),  # over 90 s
            _row("2022q2", "01_eda", 10.0), _row("2023q4", "01_eda", 12.0),            # 1.2x exactly: flat
            _row("2022q1", "05_clustering", 100.0)]                                    # before the reference
    checks = benchmark.notebook_budgets(rows)
    assert [r["notebook"] for r in checks["model_notebooks_over_budget"]] == ["06_health_score", "05_clustering"]
    assert [(r["quarter"], r["notebook"], r["reference_seconds"]) for r in checks["not_flat"]] == [
        ("2023q4", "04_anomaly", 50.0)]
    assert checks["meets_notebook_targets"] is False
    ok = benchmark.notebook_budgets([_row("2022q2", "04_anomaly", 50.0), _row("2023q1", "04_anomaly", 60.0)])
    assert ok["meets_notebook_targets"] is True and ok["not_flat"] == []


def test_write_quarters_keeps_the_header_and_the_chosen_quarters(tmp_path):
    source = tmp_path / "in" / "edu_data_F.csv"
    source.parent.mkdir()
    source.write_bytes(b"BAS_YH,SEQ\r\n2023q3,a\r\n2023Q4,b\r\n2023q3,c\r\n")
    target = tmp_path / "out" / "edu_data_F.csv"
    benchmark._write_quarters(source, target, lambda q: q < "2023q4")
    assert target.read_bytes() == b"BAS_YH,SEQ\r\n2023q3,a\r\n2023q3,c\r\n"
    benchmark._write_quarters(source, target, lambda q: True)
    assert target.read_bytes() == source.read_bytes()
