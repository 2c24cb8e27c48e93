# The two commands: `make run` serves the API locally, `make test` runs every test.
# Both install what they need under .tools/ on first use.

.PHONY: run test rotate-key

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

# `make rotate-key`: rotates make run's key ring (.local/keyring.json) while the API runs; no
# token stops verifying (see the README's rotation runbook).
rotate-key:
	@cargo run --quiet -p keyring -- rotate "$${KEY_RING_FILE:-.local/keyring.json}"

# `make build`: `sam build` of every Lambda function (x86_64 here; deploy with `sam deploy --guided`).
.PHONY: build
build:
	@bash scripts/sam.sh build

# `make bench`: every figure against a baseline measured in the same run; writes bench/results.md.
.PHONY: bench
bench:
	@bash scripts/bench.sh

# `make soak`: SOAK_MINUTES (default 30) of mixed traffic against release builds of the local
# stack; writes bench/soak.md (per-route figures, memory growth, 5xx, an audit of the tables).
.PHONY: soak
soak:
	@bash scripts/soak.sh
