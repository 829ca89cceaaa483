# xlgo — build and test.
GO ?= go
BIN := bin

.PHONY: build test unit regress vet fmt cluster clean-cluster fuzz-sql race race-build race-unit race-cluster fuzz tpcc

build:
	$(GO) build -o $(BIN)/coordinator ./cmd/coordinator
	$(GO) build -o $(BIN)/gtm ./cmd/gtm
	$(GO) build -o $(BIN)/xlctl ./cmd/xlctl

# Every test: vet, unit tests of the pure packages, then the integration and
# regression suites against real PostgreSQL datanodes started in a temp dir,
# then the race checks (make race).
test: build vet
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) race

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

# A longer run of the random differential queries: make fuzz-sql N=20000 SEED=7
N ?= 20000
SEED ?= 1
fuzz-sql:
	$(GO) test -count=1 -timeout 0 -run TestRandomQueries ./difftest -args -random $(N) -seed $(SEED)

# TPC-C on a plain PostgreSQL and on xlgo (1 coordinator, 2 datanodes), both
# started in a temp dir, at the specification's population: make tpcc
# TPCC_WAREHOUSES=2 TPCC_DURATION=30s. Against a running cluster, use the
# command: go run ./bench/tpcc/cmd/tpcc -h (see bench/README.md).
TPCC_WAREHOUSES ?= 1
TPCC_TERMINALS ?= 10
TPCC_DURATION ?= 10s
TPCC_ROUNDS ?= 3
TPCC_MODULO ?=
tpcc:
	XLGO_TPCC_FIGURES=1 XLGO_TPCC_WAREHOUSES=$(TPCC_WAREHOUSES) XLGO_TPCC_TERMINALS=$(TPCC_TERMINALS) \
		XLGO_TPCC_DURATION=$(TPCC_DURATION) XLGO_TPCC_ROUNDS=$(TPCC_ROUNDS) XLGO_TPCC_MODULO=$(TPCC_MODULO) \
		$(GO) test -count=1 -timeout 30m -run '^TestTPCCFigures$$' -v ./bench/tpcc

# Data races: the packages with concurrency under `go test -race`, then the
# cluster tests of cancel, commit, the snapshot gate, pooling, prepared
# statements and the chaos matrix against gtm and coordinator built with
# -race (in bin/race; a test fails when a process of its cluster reports a
# race in its log).
RACE_BIN := $(BIN)/race
RACE_UNIT := ./pooler ./gtm/... ./gtmclient ./executor/... ./deadlock ./rawconn ./catalog ./server ./engine ./planner ./txn ./cluster/clustertest ./internal/poll ./internal/faultproxy ./internal/testhosts
RACE_CLUSTER := ./txtest ./regress ./workload ./resolver ./cluster ./engine ./opstest
RACE_TESTS := TestMixedLoad|TestRedistributeUnderLoad|TestMoveKill|TestRepeatableReadAcrossMove|TestPgbenchGrowAndShrink|TestGTMAutoFailover|TestAutomaticDatanodeFailover|TestDatanodeStandbyFailover|TestSyncStandbyLoss|TestBatchIsOneTransaction|TestReplicatedReadJoinsNoNode|TestRouteTemplatesFollowTheCatalog|TestCommitNotices|TestPreparedStatementsShared|TestReadHoldingGateFinishes|TestReadGateWaitBounded|TestCommitGateWaitBounded|TestSnapshotGateSpec|TestBankInvariant|TestDistributedDeadlock|TestSetTransactionRepeatableRead|TestRegress|TestCancelAndTimeouts|TestLostPreparedStatements|TestPgbench|TestResolver|TestChaosMatrix|TestAdminConsole|TestCoordinatorMetrics|TestShutdownSignals|TestSessionIDEverywhere|TestReloadUnderPgbench

race: race-unit race-cluster

race-build:
	$(GO) build -race -o $(RACE_BIN)/coordinator ./cmd/coordinator
	$(GO) build -race -o $(RACE_BIN)/gtm ./cmd/gtm
	$(GO) build -race -o $(RACE_BIN)/xlctl ./cmd/xlctl

race-unit:
	$(GO) test -race -count=1 $(RACE_UNIT)

race-cluster: race-build
	XLGO_TEST_BIN=$(abspath $(RACE_BIN)) XLGO_BANK_DURATION=15s XLGO_MIXED_DURATION=15s \
		$(GO) test -p 1 -count=1 -timeout 40m -run '^($(RACE_TESTS))$$' $(RACE_CLUSTER)
