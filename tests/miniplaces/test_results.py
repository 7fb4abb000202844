"""miniplaces/results.py: the job plan (models, seeds, flags, fine-tunes and their control), one job run end to
end on tiny toy data, the seed statistics, and how results_docs words a comparison."""
from __future__ import annotations

from pathlib import Path

import pytest

from miniplaces import results as mr
from miniplaces.results_docs import compare, paired, paired_words


def _by_name(jobs):
    return {j["name"]: j for j in jobs}


def test_plan_trains_every_model_for_every_seed_with_its_flags(tmp_path):
    jobs = _by_name(mr.model_jobs(mr.FULL, ["DATA"], tmp_path))
    seeds = mr.FULL.seeds
    for key, model in mr.MODELS.items():
        for seed in seeds[:model.seeds]:
            job = jobs[f"{key}_s{seed}"]
            assert job["arch"] == list(model.arch) and job["train"][-2:] == ["--epochs", str(model.epochs)]
            assert [a["eps"] for a in job["attacks"]] == list(mr.ATTACKS)
    assert "simplenet_customconv_s2025" not in jobs  # one seed: the same function as SimpleNet's seed 2024
    assert jobs["resnet18_s2024"]["arch"][-2:] == ["--pretrained-weights", "none"]  # random init, offline
    for key in mr.FULL.longer:  # the convergence check: twice the epochs, same seed, no attacks
        long = jobs[f"{key}_long_s{seeds[0]}"]
        assert long["train"][-1] == str(2 * mr.MODELS[key].epochs) and long["attacks"] == []
    shown = [j["name"] for j in jobs.values() if any(a["vis"] or a["grid"] for a in j["attacks"])]
    assert shown == [f"simplenet_s{seeds[0]}"]
    order = [j["name"] for j in mr.model_jobs(mr.FULL, ["DATA"], tmp_path)]
    assert order[:len(seeds)] == [f"simplenet_s{s}" for s in seeds]  # they unlock the fine-tunes


def test_finetunes_start_from_their_seeds_simplenet_and_differ_only_by_the_attack(tmp_path):
    jobs = _by_name(mr.model_jobs(mr.FULL, ["DATA"], tmp_path))
    done = jobs["simplenet_s2025"]
    follow = _by_name(mr.finetune_jobs(mr.FULL, ["DATA"], tmp_path, done))
    adv, clean = follow["adv_finetune_s2025"], follow["clean_finetune_s2025"]
    best = str(Path(done["logdir"]) / "models" / "model_best.pth.tar")
    assert adv["train"][adv["train"].index("--init") + 1] == best and adv["seed"] == clean["seed"] == 2025
    assert adv["train"] == clean["train"] + list(mr.ADV) and "--adv-train" not in clean["train"]
    assert mr.finetune_jobs(mr.FULL, ["DATA"], tmp_path, jobs["simplenet_long_s2024"]) == []
    assert mr.finetune_jobs(mr.FULL, ["DATA"], tmp_path, jobs["resnet18_s2024"]) == []


def test_one_job_trains_attacks_and_returns_what_the_summaries_read(toy_root, tmp_path):
    plan = mr.Plan(grid_batches=1)
    base = [str(toy_root), "--num-classes", "4", "--image-size", "32", "-b", "8", "-j", "0", "--no-amp", "--quiet",
            "-p", "1", "--device", "cpu"]
    job = mr.job("simplenet_s2024", "simplenet", 2024, base, (), ["--lr", "0.05", "--warmup", "0", "--epochs", "2"],
                 tmp_path, attacks=[mr.attack("0.1", plan=plan, vis=True, grid=True)], iter_losses=True)
    out = mr.execute(job)
    assert [h["epoch"] for h in out["history"]] == [1, 2] and set(mr.HISTORY_KEYS) <= set(out["history"][0])
    attacked = out["attacks"]["0.1"]
    assert attacked["attack_acc1"] <= attacked["attack_clean_acc1"] and Path(attacked["samples"]).is_file()
    assert len(out["grid"]) == 9 and len(out["iter_losses"]) == 2 * 2  # 16 images / batch 8, 2 epochs
    assert "not MiniPlaces" in out["data"]
    summary = mr.run_summary({**job, **out})
    assert summary["val_curve"] == [h["val_acc1"] for h in out["history"]] and summary["plateau_gain"] is None


def test_seed_statistics():
    s = mr.stat([90.0, 92.0, None, 94.0])
    assert s["mean"] == pytest.approx(92.0) and s["std"] == pytest.approx(2.0) and s["n"] == 3
    assert mr.stat([91.0])["std"] is None and mr.stat([])["mean"] is None
    losses = mr.conv_losses([2.3, 2.2, 2.0], [2.3, 2.2, 2.1])
    assert losses["first_apart_1e-4"] == 2 and losses["max_abs_diff"] == pytest.approx(0.1)


def test_comparisons_resolve_only_gaps_beyond_two_standard_errors():
    a = {"mean": 95.0, "std": 0.5, "n": 3}
    assert "higher than B by 3.0" in compare(a, {"mean": 92.0, "std": 0.5, "n": 3}, "A", "B")
    assert "not resolved" in compare(a, {"mean": 94.0, "std": 1.5, "n": 3}, "A", "B")  # 1 point, se 0.9
    assert "one seed" in compare(a, {"mean": 94.0, "std": None, "n": 1}, "A", "B")
    p = paired([90.0, 91.0, 92.0], [85.0, 85.5, 86.0])
    assert p["diffs"] == [5.0, 5.5, 6.0] and "resolved (beyond" in paired_words(p, "gap")
    assert "not resolved" in paired_words(paired([90.0, 85.0, 92.0], [88.0, 88.0, 88.0]), "gap")
