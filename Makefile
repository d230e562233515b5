# trackheat: `make demo` and `make test` do all the set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py trackheat/render/_shade.c trackheat/accumulate/_splat.c | cksum | cut -d' ' -f1)
OUT    := out
APT    := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: all demo test lint bench sysdeps venv clean

all: test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "trackheat needs Python >= 3.10 ($(PYTHON) is older)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && $(APT) python3-venv && rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); \
	  else echo "python venv is missing: sudo apt-get install python3-venv"; exit 1; fi; }

$(STAMP): pyproject.toml setup.py trackheat/render/_shade.c trackheat/accumulate/_splat.c | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@# The live overlay's C loop (setup.py) is optional: without a compiler OpenCV does its work, slower.
	@$(BIN)/python -c 'import trackheat.render._shade' 2>/dev/null || \
	  echo "note: trackheat.render._shade was not built (no C compiler or Python headers?); trackheat live uses the slower OpenCV path"
	@$(BIN)/python -c 'import trackheat.accumulate._splat' 2>/dev/null || \
	  echo "note: trackheat.accumulate._splat was not built (no C compiler or Python headers?); density() uses the slower numpy path"
	@# opencv-python links libGL and glib: present on desktops, not always on a bare server.
	@$(BIN)/python -c 'import cv2' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && $(APT) libgl1 libglib2.0-0 >/dev/null; \
	  else echo "OpenCV needs libGL and glib: sudo apt-get install libgl1 libglib2.0-0"; exit 1; fi; }
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

# Xvfb and xdotool drive the real pointer and screen in the tests; openbox is the real EWMH
# window manager the per-application tests focus windows under; headless Chromium and its
# driver (Debian's packages, nothing downloaded at run time) drive the viewer's page.
sysdeps:
	@if command -v Xvfb >/dev/null 2>&1 && command -v xdotool >/dev/null 2>&1 && command -v openbox >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "installing xvfb, xdotool and openbox with apt-get"; \
	  apt-get update -qq && $(APT) xvfb xdotool xauth openbox >/dev/null; \
	else echo "the tests need Xvfb, xdotool and openbox; install them with: sudo apt-get install xvfb xdotool openbox"; exit 1; fi
	@if command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "installing chromium and chromium-driver with apt-get"; \
	  apt-get update -qq && $(APT) chromium chromium-driver >/dev/null; \
	else echo "the viewer's tests need Chromium; install it with: sudo apt-get install chromium chromium-driver"; exit 1; fi

# Lint and type check: settings in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: $(STAMP)
	$(BIN)/ruff check trackheat tests bench
	$(BIN)/mypy

test: $(STAMP) sysdeps lint
	$(BIN)/python -m pytest -q -ra

demo: $(STAMP)
	@mkdir -p $(OUT)
	@rm -f $(OUT)/demo.db $(OUT)/demo.db-wal $(OUT)/demo.db-shm
	$(BIN)/trackheat import --db $(OUT)/demo.db --screen 1920x1080 sample_logs/*.csv
	$(BIN)/trackheat sessions --db $(OUT)/demo.db
	$(BIN)/trackheat stats --db $(OUT)/demo.db --session all
	$(BIN)/trackheat export --db $(OUT)/demo.db --session 1 --background sample_logs/browser.png -o $(OUT)/browser
	$(BIN)/trackheat export --db $(OUT)/demo.db --session 2 --background sample_logs/editor.png -o $(OUT)/editor
	$(BIN)/trackheat export --db $(OUT)/demo.db --session 3 --background sample_logs/spreadsheet.png -o $(OUT)/spreadsheet
	$(BIN)/trackheat export --db $(OUT)/demo.db --session all --kind clicks -o $(OUT)/clicks
	$(BIN)/trackheat gaze sample_logs/gaze/rim/fixations.csv --reference sample_logs/gaze/rim/reference_image.jpeg -o $(OUT)/gaze
	@echo "heatmaps: $(OUT)/{browser,editor,spreadsheet,clicks,gaze}/{heatmap,overlay}.png"
	@echo "explore them in your browser: $(BIN)/trackheat view --db $(OUT)/demo.db"

bench: $(STAMP) sysdeps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(OUT) .pytest_cache
