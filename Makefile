# runnerwire: `make demo` sets everything up and runs the demo job; `make test` runs the tests.

CARGO       ?= cargo
PYTHON      ?= python3
VENV        := .venv
VENV_STAMP  := $(VENV)/.installed
CORE_VENV   := .venv-core
CORE_STAMP  := $(CORE_VENV)/.installed
COMPONENT   := target/wasm32-wasip2/release/runnerwire_codec.wasm
PRECOMPILED := target/wasm32-wasip2/release/runnerwire_codec.cwasm
BIN         := target/release/runnerwire
DEMO_OUT    := target/demo

.PHONY: all toxiproxy soak test-soak cross-background packaging-venv roots-background build component precompiled bindings venv core-venv test-image receptor system check test test-rust test-js test-python test-docs test-mesh mesh-tests upstream-suite test-upstream-suite version-skew test-version-skew test-size demo demo-mesh fixtures hostile-fixtures bench bench-portable bench-hostile bench-million bench-bindings dist test-dist clean

all: build

## Every build of the host for Linux is compiled and linked by zig (packaging/zig/cc) against
## glibc 2.28's symbols, RHEL 8's and UBI 8's: the CLI, the Python extension and the test
## binaries alike, for x86_64 and for aarch64, so one build serves the tests and the release.
## Zig and cargo-zigbuild come pinned from the Python package index into target/packaging-venv
## (packaging/requirements.txt; docs/development.md,
## "Portable builds", says why glibc 2.28 and not musl).
PACKAGING_VENV  := target/packaging-venv
PACKAGING_STAMP := $(PACKAGING_VENV)/.installed
GLIBC_FLOOR := 2.28
export RUNNERWIRE_GLIBC := $(GLIBC_FLOOR)
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER := $(CURDIR)/packaging/zig/x86_64-linux-gnu-cc
export CC_x86_64_unknown_linux_gnu := $(CURDIR)/packaging/zig/x86_64-linux-gnu-cc
export AR_x86_64_unknown_linux_gnu := $(CURDIR)/packaging/zig/x86_64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER := $(CURDIR)/packaging/zig/aarch64-linux-gnu-cc
export CC_aarch64_unknown_linux_gnu := $(CURDIR)/packaging/zig/aarch64-linux-gnu-cc
export AR_aarch64_unknown_linux_gnu := $(CURDIR)/packaging/zig/aarch64-linux-gnu-ar
packaging-venv: $(PACKAGING_STAMP)
$(PACKAGING_STAMP): packaging/requirements.txt
	$(PYTHON) -m venv $(PACKAGING_VENV)
	$(PACKAGING_VENV)/bin/pip install --quiet --disable-pip-version-check -r packaging/requirements.txt
	@touch $@

## The wasm32-wasip2 target, if this toolchain lacks it.
target/.wasm-target:
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	@mkdir -p target && touch $@

## The codec component (format logic, sandboxed), and the probe the sandbox tests run in it.
component: target/.wasm-target $(PACKAGING_STAMP)
	$(CARGO) build --locked -p runnerwire-codec --lib --target wasm32-wasip2 --release
	$(CARGO) build --locked --manifest-path tests/escape-probe/Cargo.toml --target wasm32-wasip2 --release --target-dir target

## The component compiled to native code for the host's engine, so the binary embeds it
## ready to run (no compiling at start, no cache directory): a first build of the host
## crate makes `runnerwire-precompile`, which writes it; the second build embeds it.
precompiled: component
	@$(MAKE) --no-print-directory $(PRECOMPILED)
$(PRECOMPILED): $(COMPONENT) Cargo.lock host/src/sandbox/runtime.rs host/Cargo.toml
	$(CARGO) build --locked --release -p runnerwire --bin runnerwire-precompile
	target/release/runnerwire-precompile $@

## The host binary, with the component embedded: target/release/runnerwire.
build: precompiled
	$(CARGO) build --locked --release -p runnerwire

## Upstream ansible-runner + ansible-core from the Python package index, pinned, for fixtures and compatibility tests.
venv: $(VENV_STAMP)
$(VENV_STAMP): fixtures/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r fixtures/requirements.txt
	@touch $@

## ansible-core alone (no ansible-runner): what an execution node running our worker needs.
core-venv: $(CORE_STAMP)
$(CORE_STAMP): fixtures/requirements-core.txt
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/pip install --quiet --disable-pip-version-check -r fixtures/requirements-core.txt
	@touch $@

## The execution-environment image the container tests run jobs in (podman, debootstrap;
## built once, then kept). CONTAINERS_CONF adapts podman to this project's CI machines.
export CONTAINERS_CONF ?= $(CURDIR)/tests/container/containers.conf
test-image:
	bash tests/container/build-image.sh

## Receptor (AWX's mesh), built from its own Go module at a pinned tag into
## target/receptor/receptor (Go's caches under target/go; the tag and why in docs/receptor.md),
## and its Python client receptorctl, pinned, in the upstream venv: the mesh tests drive
## the control socket with the client AWX uses.
RECEPTOR     := target/receptor/receptor
MESH_STAMP   := $(VENV)/.mesh-installed
receptor: $(RECEPTOR) $(MESH_STAMP)
$(RECEPTOR): tests/mesh/build-receptor.sh
	bash tests/mesh/build-receptor.sh
$(MESH_STAMP): tests/mesh/requirements.txt $(VENV_STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/mesh/requirements.txt
	@touch $@

## Toxiproxy (a fault-injecting TCP proxy: the soak's delay and jitter), built from its Go
## module at a pinned version into target/toxiproxy (tests/soak/build-toxiproxy.sh).
TOXIPROXY := target/toxiproxy/toxiproxy-server
toxiproxy: $(TOXIPROXY)
$(TOXIPROXY): tests/soak/build-toxiproxy.sh
	bash tests/soak/build-toxiproxy.sh

## The component for Node, the browser and Python: the npm package's generated code
## (jco, pinned in bindings/js/package-lock.json), the page's copy of it and of the WASI
## shims (web/dist), and the Python package in its venv: its extension module is the host
## crate (PyO3, built by maturin, pinned in bindings/python/requirements-build.txt) with the
## precompiled component embedded, as in the CLI; the package carries the CLI binary too
## (runnerwire/_bin/), which its Worker runs.
JS_STAMP := bindings/js/node_modules/.installed
PY_VENV  := bindings/python/.venv
PY_STAMP := $(PY_VENV)/.installed
$(JS_STAMP): bindings/js/package.json bindings/js/package-lock.json
	cd bindings/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
$(PY_STAMP): bindings/python/requirements-build.txt
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check -r bindings/python/requirements-build.txt
	@touch $@
bindings: build $(JS_STAMP) $(PY_STAMP)
	node bindings/js/build.mjs $(COMPONENT)
	rm -rf web/dist && mkdir -p web/dist
	cp -r bindings/js/gen web/dist/codec
	cp -r bindings/js/node_modules/@bytecodealliance/preview2-shim/dist web/dist/shim
	rm -rf bindings/js/web && mkdir -p bindings/js/web
	cp web/*.html web/*.mjs web/*.css web/*.svg bindings/js/web/ && cp -r web/dist bindings/js/web/dist
	mkdir -p bindings/python/runnerwire/_bin && cp $(BIN) bindings/python/runnerwire/_bin/runnerwire
	cd bindings/python && VIRTUAL_ENV=$(CURDIR)/$(PY_VENV) .venv/bin/maturin develop --release --quiet

## All tests: codec unit tests (incl. differential tests against CPython's json),
## snapshots, compatibility tests that run upstream ansible-runner for real, the
## bindings (Node, the page in headless Chromium, Python) against native and upstream,
## runnerwire as the work command of a real Receptor mesh, and the release artifacts of
## `make dist` installed fresh (test-dist).
# Temp files of the Rust and mesh tests go to /dev/shm when there is one (TEST_TMPDIR
# overrides it): the cut-stream test makes ~60,000 small trees.
TEST_TMP := $${TEST_TMPDIR:-$$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo $${TMPDIR:-/tmp})}

# `-k`: every suite runs and reports even when an earlier one failed. On a fresh machine
# `system` installs the Debian packages the suites need first (tests/setup-system.sh).
test: system roots-background precompiled cross-background venv core-venv test-image bindings receptor toxiproxy upstream-suite version-skew
	$(MAKE) -k test-rust test-js test-python test-upstream-suite test-version-skew test-size mesh-tests test-soak test-dist test-docs

## The system packages the full suite needs (podman, debootstrap, Chromium, ...): installed
## when run as root, else named with the command that installs them.
system:
	bash tests/setup-system.sh

## The quick tier: the codec's and host's unit tests, the integration tests that need no
## upstream venv, no podman, no browser and no network (snapshots, limits, sandbox escapes,
## truncation, resume, process against upstream's recordings), and the docs' examples.
## A few minutes after a build; `make test` is the full suite.
QUICK_TESTS := frames_snapshot inspect limits process_compat process_resume sandbox_escape truncation view wasi_fallback
check: precompiled
	TMPDIR=$(TEST_TMP) $(CARGO) test --locked --release --workspace --lib --bins
	TMPDIR=$(TEST_TMP) $(CARGO) test --locked --release --workspace --test integration -- $(addsuffix ::,$(QUICK_TESTS))
	@$(MAKE) --no-print-directory test-docs

# Every suite has an outer time limit (SUITE_LIMIT, seconds; test-rust, which compiles first, an hour): a test that hangs inside a
# synchronous call, where its own limit cannot fire, still ends the run with a failure.
SUITE_LIMIT ?= 1800
LIMITED := timeout --kill-after=30 $(SUITE_LIMIT)

# Needs the component, not `build`: cargo test builds the binary itself, with the features of
# the whole workspace and its test dependencies, so wasmtime is compiled once per run.
test-rust:
	TMPDIR=$(TEST_TMP) \
	RUNNERWIRE_VENV=$(CURDIR)/$(VENV) RUNNERWIRE_CORE_VENV=$(CURDIR)/$(CORE_VENV) timeout --kill-after=30 3600 $(CARGO) test --locked --release --workspace --no-fail-fast

test-js:
	cd bindings/js && $(LIMITED) node --test test/

test-python:
	cd bindings/python && RUNNERWIRE_VENV=$(CURDIR)/$(VENV) $(LIMITED) .venv/bin/python -m unittest discover -s tests -v

# The runnable examples of README.md and docs/*.md against target/release/runnerwire, their
# relative links and the make targets they name (tests/docs/check_docs.py says how).
test-docs:
	$(PYTHON) tests/docs/check_docs.py

## Upstream ansible-runner 2.4.3's own streaming tests (its source package's
## test/integration/test_transmit_worker_process.py, fetched by pip at setup, never
## committed) run against upstream itself and then against runnerwire: imports pointed at
## the runnerwire package, `ansible-runner` on PATH the runnerwire CLI; each case in its own
## process with a time limit (tests/upstream_suite/).
UPSTREAM_SUITE       := target/upstream-suite
UPSTREAM_SUITE_STAMP := $(UPSTREAM_SUITE)/.installed
upstream-suite: $(UPSTREAM_SUITE_STAMP)
$(UPSTREAM_SUITE_STAMP): tests/upstream_suite/setup.sh tests/upstream_suite/requirements.txt tests/upstream_suite/sdist.txt fixtures/requirements.txt
	bash tests/upstream_suite/setup.sh $(CURDIR)/$(UPSTREAM_SUITE)
test-upstream-suite:
	$(LIMITED) $(PYTHON) -m unittest -v tests/upstream_suite/test_upstream_suite.py

## Version skew: our stages beside ansible-runner 2.2, 2.3 and 2.4, each release's transmit,
## worker and process against ours (tests/version_skew/; the older releases' venvs, pinned,
## under target/version-skew).
VERSION_SKEW       := target/version-skew
VERSION_SKEW_STAMP := $(VERSION_SKEW)/.installed
version-skew: $(VERSION_SKEW_STAMP)
$(VERSION_SKEW_STAMP): tests/version_skew/setup.sh $(wildcard tests/version_skew/requirements-*.txt)
	bash tests/version_skew/setup.sh $(CURDIR)/$(VERSION_SKEW)
test-version-skew: venv
	RUNNERWIRE_VENV=$(CURDIR)/$(VENV) $(LIMITED) $(PYTHON) -m unittest -v tests/version_skew/test_version_skew.py

## A job of 1,000,000 generated events through worker -> process and the Python Processor:
## every event counted, peak memory flat against a tenth of the job, each tenth of the
## events as quick as the others (tests/size/; figures in docs/benchmarks.md).
test-size:
	RUNNERWIRE_PY=$(CURDIR)/$(PY_VENV)/bin/python $(LIMITED) $(PYTHON) -m unittest -v tests/size/test_million_events.py

# One Receptor mesh on loopback (a controller, two runnerwire nodes, an upstream node),
# driven as AWX drives it. `make test` runs them (mesh-tests) on the binary test-rust's cargo
# test just built, without `build`: `cargo build -p runnerwire` may resolve features unlike
# `cargo test --workspace` and build the host a second time.
test-mesh: build core-venv receptor
	@$(MAKE) --no-print-directory mesh-tests
mesh-tests:
	TMPDIR=$(TEST_TMP) \
	RUNNERWIRE_VENV=$(CURDIR)/$(VENV) RUNNERWIRE_CORE_VENV=$(CURDIR)/$(CORE_VENV) \
	  $(LIMITED) $(VENV)/bin/python -m unittest -v tests/mesh/test_mesh.py

## The soak (as root): a Receptor mesh of network namespaces (a controller, a hop, four
## execution nodes; one link through Toxiproxy, one over TLS), at least 200 mixed jobs in
## 10 minutes while at least 30 faults hit links and processes; every job's events counted
## against an undisturbed run (tests/soak/; figures in docs/benchmarks.md). SOAK_ARGS adds
## options, e.g. `--worker upstream` for upstream's worker on every node.
SOAK_ARGS ?=
soak: build core-venv venv receptor toxiproxy test-image
	RUNNERWIRE_VENV=$(CURDIR)/$(VENV) RUNNERWIRE_CORE_VENV=$(CURDIR)/$(CORE_VENV) \
	  timeout --kill-after=30 1200 $(VENV)/bin/python tests/soak/soak.py --figures target/soak-figures.json $(SOAK_ARGS)

# The short soak (2 minutes of jobs) and the checks that its faults are real; in `make test`.
test-soak:
	TMPDIR=$(TEST_TMP) \
	RUNNERWIRE_VENV=$(CURDIR)/$(VENV) RUNNERWIRE_CORE_VENV=$(CURDIR)/$(CORE_VENV) \
	  $(LIMITED) $(VENV)/bin/python -m unittest -v tests/soak/test_soak.py

## The demo job through a real Receptor mesh: a controller and an execution node running
## runnerwire as `ansible-runner`, the job submitted and its results read as AWX does.
demo-mesh: build core-venv receptor
	$(VENV)/bin/python tests/mesh/demo.py --out $(CURDIR)/target/demo-mesh

## runnerwire transmit | runnerwire worker | runnerwire process on the bundled demo private
## data dir (the worker needs only ansible-core: it is taken from the venv).
demo: build venv
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(BIN) transmit demo/private_data_dir -p site.yml --ident demo \
	  | env PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(BIN) worker --private-data-dir $(DEMO_OUT)/worker \
	  | $(BIN) process $(DEMO_OUT)/output --ident demo
	@echo
	@echo "artifacts: $(DEMO_OUT)/output/artifacts/demo ($$(ls $(DEMO_OUT)/output/artifacts/demo/job_events | wc -l) job events, status $$(cat $(DEMO_OUT)/output/artifacts/demo/status))"

## Re-record fixtures/ from upstream ansible-runner (then review and commit the diff).
fixtures: venv
	$(VENV)/bin/python fixtures/record.py

## Rebuild the hostile corpus (fixtures/hostile/) and record what upstream does with each case.
hostile-fixtures: venv
	$(PYTHON) fixtures/hostile/build.py --upstream $(CURDIR)/$(VENV)/bin

## Peak memory of process on a 256 MiB line and a 512 MiB zip bomb, next to upstream.
bench-hostile: build venv
	$(VENV)/bin/python bench/hostile_rss.py --venv-bin $(VENV)/bin --runnerwire $(BIN)

## Speed and memory side by side with upstream.
bench: build bindings venv core-venv receptor
	$(VENV)/bin/python bench/bench.py --venv-bin $(VENV)/bin --runnerwire $(BIN)

## A million generated events through worker, process and Processor.run(), upstream and
## runnerwire side by side in one run (about 10 minutes).
bench-million: build bindings venv
	$(VENV)/bin/python bench/million_events.py --venv-bin $(CURDIR)/$(VENV)/bin --runnerwire $(BIN)

## The portable build (`make build`: zig, glibc 2.28) next to a native build of the same
## source (this machine's linker and glibc, built here into target/native), side by side in
## one run of bench.py: every row that times the CLI (docs/benchmarks.md, "Portable build").
NATIVE_BIN := target/native/release/runnerwire
bench-portable: build venv
	env -u CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER -u CC_x86_64_unknown_linux_gnu -u AR_x86_64_unknown_linux_gnu \
	  RUNNERWIRE_PRECOMPILED=$(CURDIR)/$(PRECOMPILED) RUNNERWIRE_COMPONENT=$(CURDIR)/$(COMPONENT) \
	  $(CARGO) build --locked --release -p runnerwire --target-dir target/native
	$(VENV)/bin/python bench/bench.py --venv-bin $(CURDIR)/$(VENV)/bin --runnerwire $(BIN) --baseline $(NATIVE_BIN) \
	  --only start process transmit worker decoder

## The component in Node and Python next to the native CLI (MB/s on one large stream).
bench-bindings: build bindings
	$(PYTHON) bench/bindings.py --venv-bin $(CURDIR)/$(VENV)/bin

## Release artifacts in target/dist/ (packaging/dist.sh): for x86_64 and for aarch64 each,
## the CLI as a tarball laid out as a prefix (unpack it into /usr/local, say: bin/runnerwire,
## with the component embedded, and share/runnerwire/web, the page `runnerwire view` serves)
## and the Python wheel (abi3, manylinux_2_28, the component and the CLI inside, no other
## package needed); the npm package tarball; SHA256SUMS. Every binary needs glibc 2.28 at
## most. `make test-dist` checks that, installs each fresh, here and in Debian bullseye roots
## for both architectures (aarch64 under qemu), and runs the worker inside an
## execution-environment image as AWX's container groups do.
DIST := target/dist
dist: build bindings
	bash packaging/dist.sh

ROOTS := target/roots
## The aarch64 CLI compiled ahead, at the lowest priority, while the suites run: test-dist's
## `make dist` then finds it built (packaging/cross-build.sh, target/cross-build.log).
cross-background: precompiled
	@mkdir -p target
	@echo "the aarch64 CLI builds in the background (target/cross-build.log)"
	@nice -n 19 bash packaging/cross-build.sh $$([ "$$(uname -m)" = x86_64 ] && echo aarch64 || echo x86_64)-unknown-linux-gnu > target/cross-build.log 2>&1 &

roots-background: system
	bash tests/dist/setup-roots.sh --background $(ROOTS)
test-dist: dist core-venv venv test-image
	bash tests/dist/setup-roots.sh $(ROOTS)
	bash tests/dist/build-ee-images.sh
	RUNNERWIRE_CORE_VENV=$(CURDIR)/$(CORE_VENV) RUNNERWIRE_VENV=$(CURDIR)/$(VENV) RUNNERWIRE_ROOTS=$(CURDIR)/$(ROOTS) \
	  $(LIMITED) $(PYTHON) -m unittest -v tests/dist/test_dist.py tests/dist/test_platforms.py tests/dist/test_ee.py

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(CORE_VENV) $(PY_VENV) bindings/js/node_modules bindings/js/gen web/dist
