# ScoringPlatform. The README's two set-up commands: `make run` and `make test`.
.PHONY: run test bench build infra-up infra-down clean produce

CONFIGURATION ?= Release
export CONFIGURATION

run: ## Start PostgreSQL, the dev broker and the four services (Ingestion, Projections, Api, Tracking); Ctrl-C stops everything
	@bash scripts/run.sh

test: ## Unit, integration and end-to-end tests on real PostgreSQL and the Kafka protocol
	@bash scripts/test.sh

bench: ## Benchmarks (see docs/benchmarks.md)
	@bash scripts/bench.sh

build:
	dotnet build ScoringPlatform.sln -c $(CONFIGURATION)

infra-up: ## Only the embedded infrastructure (writes .run/infra.env)
	@bash scripts/infra.sh up

infra-down:
	@bash scripts/infra.sh down

clean:
	-bash scripts/infra.sh down
	-bash scripts/pg.sh clean
	rm -rf .run
	dotnet clean ScoringPlatform.sln -v quiet

produce: ## Produce engagement events (JSON lines on stdin) to the running platform's broker
	@dotnet build tools/Produce -c $(CONFIGURATION) -v quiet -nologo >/dev/null && dotnet tools/Produce/bin/$(CONFIGURATION)/net10.0/produce.dll
