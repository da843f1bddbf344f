"""`benchmarks/gpu_check.py --cpu-dry-run`: the GPU check's every step on CPU at tiny sizes, so it never rots
before a GPU is lent (issue 26)."""

import json
import subprocess
import sys

from tests.conftest import REPO


def test_the_gpu_check_runs_every_step_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--cpu-dry-run", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ALL CHECKS PASSED" in proc.stdout and "I0000" not in proc.stderr
    report = json.loads(out.read_text())
    assert report["mode"] == "cpu-dry-run" and report["environment"]["precision_auto"] == "float32"
    speed = {(r["model"], r["precision"]) for r in report["speed"]}
    assert {("recipe", "float32"), ("recipe", "mixed_float16"), ("paper_scale", "mixed_float16")} <= speed
    numerics = {r["precision"]: r for r in report["numerics"]}
    assert numerics["mixed_float16"]["scores_dtype"] == "float32"
    assert numerics["mixed_float16"]["optimizer"] == "LossScaleOptimizer"
    assert numerics["float32"]["export_max_abs_diff"] <= 1e-5
    assert report["serving"]["one_post_p50_ms"] > 0 and report["failures"] == []
