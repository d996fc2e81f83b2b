# Slipway — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Cargo's target folder survives between clones (CI clones afresh every run),
# keyed by the toolchain so a compiler upgrade never reuses stale artefacts.
RUSTC_KEY := $(shell rustc -V 2>/dev/null | sha256sum | cut -c1-12)
export CARGO_TARGET_DIR ?= $(HOME)/.cache/slipway/target-$(RUSTC_KEY)
SLIPWAY := $(CARGO_TARGET_DIR)/debug/slipway

.PHONY: help run test lint bench deps build fmt cluster-up cluster-down

help:
	@echo "make run    - set up and start the portal on http://127.0.0.1:8080 (private PostgreSQL, local cluster, demo team)"
	@echo "make test   - set up and run lint and every test (Rust, cluster, browser)"
	@echo "make bench  - run the benchmarks and print figures beside their baselines"
	@echo "make lint   - cargo fmt --check and clippy -D warnings"

deps:
	@scripts/ensure-deps

build:
	cargo build --bin slipway

run: deps build
	@scripts/run-local "$(SLIPWAY)"

test: deps
	@scripts/test-all

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt --all

bench: deps
	@scripts/bench-all

cluster-up:
	e2e/cluster/up

cluster-down:
	e2e/cluster/down
