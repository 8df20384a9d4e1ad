PYTHON ?= python

.PHONY: install test lint bench demo

install:            ## install floq with the test tools, editable
	$(PYTHON) -m pip install -e ".[test]"

test:               ## the whole suite, exactly as CI runs it
	$(PYTHON) -m pytest

lint:               ## ruff and mypy (also checked by tests/test_quality.py)
	$(PYTHON) -m ruff check src tests examples benchmarks
	$(PYTHON) -m mypy

bench:              ## benchmarks, by hand: not part of CI
	$(PYTHON) benchmarks/local_overhead.py

demo:               ## the seed's two examples
	$(PYTHON) examples/parallel_dask.py
	$(PYTHON) examples/async_gather.py
