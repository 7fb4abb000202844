"""Every entry script answers --help and rejects a bad flag before importing torch, torchvision or cv2.

That is what makes `python miniplaces/main.py --help` take well under 1.5 s instead of ~6 s
of imports (timed by hand, not here: README). One subprocess runs each script the way users
do (as a path, `__main__`) with --help, then with a bad flag, and lists the heavy modules
loaded by then; the first script to load one is the culprit.
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = [
    "common/train_digits.py",
    "miniplaces/main.py", "miniplaces/toy_data.py", "miniplaces/download.py", "miniplaces/demo.py",
    "miniplaces/cache.py", "miniplaces/package_submission.py",
    "functaset/classifier.py", "functaset/attack.py", "functaset/make_functaset.py", "functaset/demo.py",
    "functaset/package_submission.py", "autoencoders/package_submission.py", "alexnet_rnn/package_submission.py",
    "alexnet_rnn/build_notebook.py", "alexnet_rnn/results.py",
    "autoencoders/main.py", "autoencoders/demo.py", "autoencoders/latent_sweep.py", "autoencoders/random_codes.py",
    "alexnet_rnn/receptive_field.py", "alexnet_rnn/predict.py", "alexnet_rnn/adversarial.py",
    "alexnet_rnn/rnn_lm.py", "alexnet_rnn/position_ffn.py", "alexnet_rnn/demo.py", "alexnet_rnn/bptt.py",
    "scripts/demo.py", "scripts/bench.py", "scripts/gpu_check.py",
    "functaset/results.py", "autoencoders/results.py", "scripts/results.py",
]
HEAVY = ("torch", "torchvision", "cv2", "numpy", "matplotlib")

PROBE = r"""
import contextlib, io, json, runpy, sys
heavy, results = tuple(json.loads(sys.argv[2])), {}
for path in json.loads(sys.argv[1]):
    codes = []
    for flag in ("--help", "--no-such-flag"):
        sys.argv = [path, flag]
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                runpy.run_path(path, run_name="__main__")
            codes.append(None)
        except SystemExit as exit_:
            codes.append(exit_.code)
        except Exception as exc:
            codes.append(f"{type(exc).__name__}: {exc}")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
    results[path] = {"codes": codes, "heavy": sorted({m.split(".")[0] for m in loaded}), "help": out.getvalue()}
print(json.dumps(results))
"""


def test_help_and_bad_flags_are_answered_before_heavy_imports(tmp_path):
    present = [p for p in SCRIPTS if (REPO / p).is_file()]
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps([str(REPO / p) for p in present]),
                          json.dumps(HEAVY)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    culprits = []
    for path in present:
        r = results[str(REPO / path)]
        assert r["codes"] == [0, 2], (path, r["codes"])
        if r["heavy"] and not culprits:
            culprits.append(f"{path} loaded {r['heavy']}")
    assert not culprits, culprits
