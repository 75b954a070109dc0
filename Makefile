# Two entry points, both self-installing into the project's own .venv/:
#   make demo   the main job: scripted agents on the built-in synthetic dataset
#   make test   the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EPISODES ?= 40

.PHONY: demo test clean

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,yolo,qwen,bench,ray,verl,learn,serve]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/videostar demo --episodes $(EPISODES) --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
