# xlgo — build and test.
GO ?= go
BIN := bin

.PHONY: build test unit regress vet fmt cluster clean-cluster fuzz-sql

build:
	$(GO) build -o $(BIN)/coordinator ./cmd/coordinator
	$(GO) build -o $(BIN)/gtm ./cmd/gtm
	$(GO) build -o $(BIN)/xlctl ./cmd/xlctl

# Every test: vet, unit tests of the pure packages, then the integration and
# regression suites against real PostgreSQL datanodes started in a temp dir.
test: build vet
	$(GO) test -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

# Set up and run the reference cluster (gtm 6666, coord1 20004, coord2 20005,
# datanode1 20008, datanode2 20009) in $${XLGO_HOME:-~/xlgo}.
cluster: build
	./scripts/setup.sh

# A longer run of the random differential queries: make fuzz-sql N=20000 SEED=7
N ?= 20000
SEED ?= 1
fuzz-sql:
	$(GO) test -count=1 -timeout 0 -run TestRandomQueries ./difftest -args -random $(N) -seed $(SEED)
