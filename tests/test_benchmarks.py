"""The benchmark scripts run end to end at tiny sizes (their timings are not tested)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tbptt_benchmark_writes_results_and_records_them(tmp_path):
    record = tmp_path / "benchmarks.md"
    record.write_text("# Benchmarks\n\nkept text\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "tbptt_bench.py"), str(tmp_path), "--quick",
         "--seq-len", "40", "--samples", "4", "--units", "4", "--k", "5", "--repeats", "1",
         "--record", str(record)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "tbptt_bench.json").read_text())
    assert result["throughput"]["ratio"] > 0
    rows = result["cost"]["rows"]
    assert [(r["k1"], r["k2"], r["k2_mode"]) for r in rows][0] == (5, 5, "cut_every_k2")
    assert {r["k2_mode"] for r in rows} == {"cut_every_k2", "last_k2"}
    assert rows[0]["predicted"] == rows[0]["measured"] == 1.0
    assert result["cost"]["retraces"] == 0  # no graph traced inside a timed epoch
    assert result["cost"]["phi"] > 0
    assert set(result["cost"]["fit"]) == {"per_update", "per_step", "share_first",
                                          "worst_residual"}
    assert result["throughput"]["clock"] in ("cpu", "wall")
    assert (tmp_path / "tbptt_bench.png").stat().st_size > 0
    text = record.read_text()
    assert "kept text" in text and text.count("tbptt-bench:start") == 1
    assert "Throughput ratio" in text and "Cost model" in text
