"""Every entry script answers --help both ways users run them, from outside the repo.

`python miniplaces/main.py` (the course habit) and `python -m miniplaces.main` must both
work with no sys.path edits: the repo is installed editable. One subprocess, started in a
temporary directory, runs every script's --help via runpy (both styles) to keep this fast.
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRY_SCRIPTS = [
    "common/train_digits.py",
    "miniplaces/main.py", "miniplaces/toy_data.py", "miniplaces/download.py", "miniplaces/demo.py",
    "miniplaces/package_submission.py", "miniplaces/cache.py",
    "functaset/classifier.py", "functaset/attack.py", "functaset/make_functaset.py", "functaset/demo.py",
    "functaset/package_submission.py", "autoencoders/package_submission.py", "alexnet_rnn/package_submission.py",
    "alexnet_rnn/build_notebook.py", "alexnet_rnn/results.py",
    "autoencoders/main.py", "autoencoders/demo.py",
    "autoencoders/latent_sweep.py", "autoencoders/random_codes.py",
    "alexnet_rnn/receptive_field.py", "alexnet_rnn/predict.py", "alexnet_rnn/adversarial.py",
    "alexnet_rnn/rnn_lm.py", "alexnet_rnn/position_ffn.py", "alexnet_rnn/demo.py", "alexnet_rnn/bptt.py",
    "scripts/demo.py", "scripts/bench.py", "scripts/gpu_check.py",
    "functaset/results.py", "autoencoders/results.py", "scripts/results.py",
]

PROBE = r"""
import contextlib, io, json, runpy, sys
results = {}
for path, module in json.loads(sys.argv[1]):
    for style in ("path", "module"):
        if style == "module" and module is None:
            continue
        out = io.StringIO()
        sys.argv = [path, "--help"]
        code = None
        try:
            with contextlib.redirect_stdout(out):
                if style == "path":
                    runpy.run_path(path, run_name="__main__")
                else:
                    runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exit_:
            code = exit_.code
        except Exception as err:
            code = f"{type(err).__name__}: {err}"
        results[f"{style}:{path}"] = [code, out.getvalue()]
print(json.dumps(results))
"""


def test_every_entry_script_has_help_in_both_styles(tmp_path):
    present = [p for p in ENTRY_SCRIPTS if (REPO / p).is_file()]
    assert "common/train_digits.py" in present
    jobs = [[str(REPO / p), None if p.startswith("scripts/") else p[:-3].replace("/", ".")] for p in present]
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(jobs)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for name, (code, text) in results.items():
        assert code in (0, None), f"{name} --help exited with {code}"
        assert "usage:" in text and len(text.splitlines()) >= 4, f"{name} --help says too little:\n{text}"
