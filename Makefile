# Two entry points: `make run` (set up, then train the NumPy network) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Use the course machine's copy of MNIST when it is there; otherwise mnistlab looks in
# data/mnist and then downloads it.
SHARED_MNIST := $(wildcard $(CURDIR)/../shared/data/mnist)
ifneq ($(SHARED_MNIST),)
export MNISTLAB_DATA ?= $(SHARED_MNIST)
endif
export MPLBACKEND := Agg

.PHONY: setup run test lint bench report serve mutate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

run: setup
	$(BIN)/mnistlab train --backend numpy --out runs/numpy-default --force

# The tests read MNIST where every command would (mnistlab data: the same search, or the
# same checksummed download as `make run`); without it they stop here, in one line.
test: setup
	$(BIN)/ruff check .
	$(BIN)/mnistlab data
	$(BIN)/pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/bench.py

report: setup
	$(BIN)/mnistlab report --out reports/full

# The draw-a-digit page on http://127.0.0.1:8000/ (trains runs/default-model first if missing).
serve: setup
	$(BIN)/mnistlab serve

# Mutation score of the modules that produce the numbers a user reads (docs/mutation.md).
# Not part of `make test`: about 25 minutes on 2 shared cores. Results accumulate in mutants/.
mutate: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,mutate]'
	nice -n 15 $(BIN)/python benchmarks/mutation_score.py

clean:
	rm -rf $(VENV) runs mutants .pytest_cache .ruff_cache
