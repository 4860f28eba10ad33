# The two commands of the README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Packages checked by mypy (django-stubs); donations/ is strict (pyproject.toml).
TYPED := config events donations streaming engagement liveroom

.PHONY: run test install lint format serve

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The player's hls.js comes from npm: npm ci when node_modules is missing or older than the lock.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The platform on embedded defaults: SQLite, in-memory channel layer, Celery eager,
# simulated payments. Any variable of the README set in the environment overrides them.
run: install node_modules/.package-lock.json
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput -v0
# Outside DEBUG pages link collectstatic's hashed names (README: Processes).
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py collectstatic --noinput -v0
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
# uvicorn, the streaming worker and an ffmpeg test stream into the demo event; Ctrl-C stops all.
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py run_dev --host $(HOST) --port $(PORT)

# The production stack on one box (deploy/README.md "The production stack"): supervisord runs
# nginx (front, HLS edge and origin, RTMP), WEB_PROCESSES web processes, Celery worker and beat,
# the stream worker and the transcoder, against PostgreSQL and Redis. Front: http://127.0.0.1:8080.
SERVE_DIR ?= var/serve
WEB_PROCESSES ?= 2
serve: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pledgecast
serve: export REDIS_URL ?= redis://127.0.0.1:6379/0
serve: export DEBUG = 0
serve: install node_modules/.package-lock.json
	@mkdir -p $(SERVE_DIR)
	@test -s $(SERVE_DIR)/secret_key || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $(SERVE_DIR)/secret_key
	@chmod 600 $(SERVE_DIR)/secret_key
	$(BIN)/python -m config.stack createdb
	SECRET_KEY=$${SECRET_KEY:-$$(cat $(SERVE_DIR)/secret_key)} $(BIN)/python manage.py migrate --noinput -v0
	SECRET_KEY=$${SECRET_KEY:-$$(cat $(SERVE_DIR)/secret_key)} $(BIN)/python manage.py collectstatic --noinput -v0
	SECRET_KEY=$${SECRET_KEY:-$$(cat $(SERVE_DIR)/secret_key)} $(BIN)/python -m config.stack conf --dir $(SERVE_DIR) --web-count $(WEB_PROCESSES)
	@echo "Front: http://127.0.0.1:8080/  health: http://127.0.0.1:8080/healthz  (Ctrl-C stops all)"
	SECRET_KEY=$${SECRET_KEY:-$$(cat $(SERVE_DIR)/secret_key)} exec $(BIN)/supervisord -c $(SERVE_DIR)/supervisord.conf

# Lint (ruff, the import layers), then the whole suite against the real PostgreSQL and Redis on 127.0.0.1
# (tests/testenv.py points at them; pytest-django creates the test database).
test: install node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
# Security lint of the apps, medium severity and up; each accepted finding says why (# nosec).
	$(BIN)/bandit -q -r $(TYPED) -ll -x '*/migrations/*'
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=1 $(BIN)/mypy $(TYPED)
# Two workers (pytest-xdist), a test file each at a time: much of the suite waits on servers,
# browsers and streams, so two share the two cores well (tests/testenv.py splits ports, Redis).
# Then, alone, the tests marked `serial`: their deadlines and bursts must not share the machine.
	$(BIN)/pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
