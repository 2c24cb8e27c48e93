# The two commands: `make run` serves the API locally, `make test` runs every test.
# Both install what they need under .tools/ on first use.

.PHONY: run test

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

# `make build`: `sam build` of every Lambda function (x86_64 here; deploy with `sam deploy --guided`).
.PHONY: build
build:
	@bash scripts/sam.sh build

# `make bench`: every figure against a baseline measured in the same run; writes bench/results.md.
.PHONY: bench
bench:
	@bash scripts/bench.sh
