# rxaudit: the two commands a new user runs are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
FACE_RECOGNITION := face_recognition==1.3.0

.PHONY: demo live-demo test install install-dev bench bench-log calibrate locale clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	# face_recognition's metadata asks for a dlib source build; dlib-bin (a dependency) provides it
	$(PIP) install --no-deps $(FACE_RECOGNITION)
	touch $@

# the tests include the retraining loop, so they need the training extra (torch, ultralytics)
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e '.[dev,train]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# A per-checkout secret for hashing card ids (HMAC); never committed.
.env:
	@$(PYTHON) -c "import secrets; print('RXAUDIT_CARD_HASH_KEY=' + secrets.token_hex(32))" > $@
	@echo "wrote .env with a fresh RXAUDIT_CARD_HASH_KEY"

demo: $(VENV)/.installed .env
	$(VENV)/bin/rxaudit demo --dir demo --seed 1

# fake cameras, recorder, live workers and the wall, the sample's settlements pushed live; Ctrl-C stops it
live-demo: $(VENV)/.installed .env
	$(VENV)/bin/rxaudit live-demo --out demo-live

test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest

bench: $(VENV)/.installed .env
	$(VENV)/bin/rxaudit sample --out demo-bench --seed 5 >/dev/null
	$(VENV)/bin/rxaudit bench --settlements demo-bench/settlements.csv --videos demo-bench/videos \
		--cameras demo-bench/cameras.yaml --scale 1,10 --json bench.json
	$(VENV)/bin/rxaudit bench-models --json bench-models.json

# the log path at city scale: 1 M synthetic settlements audited (no footage), then the wall API on them
bench-log: $(VENV)/.installed .env
	$(VENV)/bin/rxaudit bench-log --rows $(or $(ROWS),1000000) --json bench-log.json

calibrate: $(VENV)/.installed
	$(VENV)/bin/rxaudit calibrate-faces --footage tests/data/footage

# the review UI's catalogs: extract the texts, merge them into each .po, compile the .mo files
# (both are kept in the tree; tests/api/test_i18n.py fails when a .mo is older than its .po)
locale: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F api/locale/babel.cfg -k N_ --no-location --sort-output --project rxaudit -o api/locale/messages.pot api
	$(VENV)/bin/pybabel update -i api/locale/messages.pot -d api/locale --no-fuzzy-matching -w 100
	$(VENV)/bin/pybabel compile -d api/locale --statistics

clean:
	rm -rf demo demo-bench bench.json rxaudit.db evidence
