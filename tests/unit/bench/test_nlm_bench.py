"""`nsrl bench nlm` at a tiny size: the figures' shape, the skip rule and the table (no timing asserts)."""

import json

from rllib_nsrl.bench.nlm_bench import PATHS, format_nlm_table, run_nlm_bench


def test_nlm_bench_dict_shape_and_table():
    res = run_nlm_bench(rounds=1, sizes=((4, 2), (5, 3)), isolate=False)
    assert res["bench"] == "nlm" and [(c["n"], c["breadth"]) for c in res["cells"]] == [(4, 2), (5, 3)]
    for cell in res["cells"]:
        for path in PATHS:
            fig = cell[path]
            assert fig["status"] == "ok" and fig["wall_ms"] > 0 and fig["cpu_ms"] >= 0
            assert "peak_mb" in fig and "outputs" not in fig
        assert cell["equal"] is True and cell["max_rel_error"] < 1e-4
        assert cell["speedup_wall"] > 0 and cell["speedup_cpu"] > 0
    assert json.loads(json.dumps(res)) == res
    table = format_nlm_table(res)
    assert table.count("\n| 4 | 2 |") == 1 and "| 5 | 3 |" in table


def test_nlm_bench_skips_cells_predicted_too_costly():
    res = run_nlm_bench(rounds=1, sizes=((5, 2), (4, 2)), limits={"step_s": 1e-9}, isolate=False)
    first, second = res["cells"]
    assert first["n"] == 4 and first["equal"] is True
    for path in PATHS:
        assert second[path]["status"].startswith("skipped (predicted step_s")
    assert second["equal"] is None and second["speedup_wall"] is None
    assert "skipped (predicted" in format_nlm_table(res)
