# Conveniences; the scripts are the real commands.
.PHONY: demo test build

build:
	go build -o bin/ ./cmd/...

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh
