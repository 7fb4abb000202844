# Entry points: `make demo` (main job), `make test` (grading checks), `make results` (the committed results/).
# Each creates or reuses .venv and installs requirements.txt (which installs this repo editable).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install demo demo-quick test results bench clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

demo-quick: $(STAMP)
	$(PY) scripts/demo.py --quick

test: $(STAMP)
	$(PY) -m pytest -q

# Every <assignment>/results.py: fixed-seed experiments -> <assignment>/results/ and the docs' tables.
# One assignment: make results ONLY=functaset
results: $(STAMP)
	$(PY) scripts/results.py $(if $(ONLY),--only $(ONLY),)

bench: $(STAMP)
	$(PY) scripts/bench.py all

clean-venv:
	rm -rf $(VENV)
