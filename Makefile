# Conveniences; the scripts are the real commands.
.PHONY: demo test build bench bench-smoke

build:
	go build -o bin/ ./cmd/...

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

# fdag vs Polars vs DuckDB (bench/README.md): 1M and 10M rows, several minutes.
bench:
	bash bench/run.sh --rows 1000000,10000000 --runs 3

# The same at a tiny size, once: agreement and the table (scripts/test.sh runs it).
bench-smoke:
	bash bench/run.sh --rows 20000 --runs 1 --data-dir out/bench-smoke
