# xlgo — build and test.
GO ?= go
BIN := bin

.PHONY: build test unit regress vet fmt cluster clean-cluster fuzz

build:
	$(GO) build -o $(BIN)/coordinator ./cmd/coordinator
	$(GO) build -o $(BIN)/gtm ./cmd/gtm
	$(GO) build -o $(BIN)/xlctl ./cmd/xlctl

# Every test: vet, unit tests of the pure packages, then the integration and
# regression suites against real PostgreSQL datanodes started in a temp dir.
test: build vet
	$(GO) test -count=1 -timeout 20m ./...

# Every fuzz target for FUZZTIME each, one after another (their seed
# corpora already run in `make test`); FUZZ=word picks the targets whose
# names contain it.
FUZZTIME ?= 2m
FUZZ ?=
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh $(FUZZ)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

# Set up and run the reference cluster (gtm 6666, coord1 20004, coord2 20005,
# datanode1 20008, datanode2 20009) in $${XLGO_HOME:-~/xlgo}.
cluster: build
	./scripts/setup.sh
