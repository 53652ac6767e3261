# Bulk operations service. The two commands a newcomer needs:
#   make demo   installs the local stack, starts it, runs one import end to end
#   make test   unit + integration tests on the local stack, template lint, ASL validation
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
LOCAL     := infra/local
ENV       := source $(LOCAL)/env.sh
TOOLS     := .tools
SAM_ENV   := SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
# Lambda build: arm64, static, no RPC shim, reproducible paths. The LocalStack
# backend runs the functions as local processes, so it builds them for this
# machine (LAMBDA_GOARCH=amd64, infra/local/localstack/deploy.sh).
LAMBDA_GOARCH ?= arm64
LAMBDA_GO := GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

# ------------------------------------------------------------------ build
.PHONY: build
build: ## build the local binaries (bin/devserver, bin/demo, bin/bulkops, bin/migrate-objects, bin/sftpserver)
	$(GO) build -o bin/devserver ./cmd/devserver
	$(GO) build -o bin/demo ./cmd/demo
	$(GO) build -o bin/bulkops ./cmd/bulkops
	$(GO) build -o bin/migrate-objects ./cmd/migrate-objects
	$(GO) build -o bin/sftpserver ./cmd/sftpserver

.PHONY: lambdas
lambdas: ## cross-compile every Lambda function for provided.al2023/arm64 into bin/lambda/<fn>/bootstrap
	@for fn in functions/*/; do n=$$(basename $$fn); \
	  echo "  lambda $$n"; $(LAMBDA_GO) -o bin/lambda/$$n/bootstrap ./functions/$$n; done

# Compiles every function's packages once, in one go command, so the build
# cache is full before sam build's parallel builds (which would otherwise
# each compile the same dependencies at the same time).
.PHONY: lambdas-cache
lambdas-cache:
	$(LAMBDA_GO) ./functions/...

# sam build (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR.
build-ImportControlFunction:  ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/import-control
build-ImportPrepareFunction:  ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/import-prepare
build-ImportChunkFunction:    ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/import-chunk
build-ImportFinalizeFunction: ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/import-finalize
build-ApiFunction:            ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api
build-ExportFunction:         ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/export
build-ExportDispatchFunction: ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/export-dispatch
build-JobCleanupFunction:     ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/job-cleanup
build-NotifyFunction:         ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/notify
build-ImportRetryFunction:    ; $(LAMBDA_GO) -o $(ARTIFACTS_DIR)/bootstrap ./functions/import-retry

# ------------------------------------------------------------ local stack
.PHONY: tools tools-stack
tools: ## install every pinned local tool into .tools/ (MinIO, DynamoDB Local, Node 22 + ASL interpreter, cfn-lint, SAM CLI)
	$(LOCAL)/install.sh all
tools-stack:
	$(LOCAL)/install.sh minio dynamodb node

.PHONY: stack-up stack-down stack-status
stack-up: tools-stack build ## start the local AWS stack on 127.0.0.1 (idempotent)
	$(LOCAL)/stack.sh up
stack-down: ## stop the local AWS stack (by PID)
	$(LOCAL)/stack.sh down
stack-status: ## show what is running
	$(LOCAL)/stack.sh status

# ------------------------------------------------------------ web console
.PHONY: web test-web screenshots
web: ## build the web console into web/dist (npm ci from web/package-lock.json, typecheck, esbuild; checks the message catalogs and the 150 KB JavaScript budget)
	$(LOCAL)/install.sh web
	cd web && npx tsc --noEmit -p . && node build.mjs

test-web: web ## browser tests of the console in headless Chromium against the running local stack (screenshots in web/test-output/ and docs/console/)
	$(LOCAL)/install.sh browser
	$(ENV) && cd web && node --test --test-concurrency=1 --test-timeout=600000 test/console.test.mjs test/retry.test.mjs test/settings.test.mjs test/units.test.mjs test/deploy-config.test.mjs

screenshots: web ## run the browser tests and write the README's screenshots into docs/console/ (stack must be up)
	$(LOCAL)/install.sh browser
	$(ENV) && cd web && BULKOPS_SCREENSHOTS=docs node --test --test-concurrency=1 --test-timeout=600000 test/console.test.mjs test/retry.test.mjs test/settings.test.mjs

# ------------------------------------------------------------------- demo
.PHONY: demo demo-s3 token
demo: stack-up web ## run the main job: the bulkops CLI imports a CSV through the API, follows the job, prints it and its error CSV
	@$(ENV) && export BULKOPS_TOKEN=$$(./bin/bulkops token --tenant demo --user admin@demo.example) && status=0 && \
	  ./bin/bulkops import samples/work-type.csv --type work-type --wait --errors-out $(TOOLS)/run/work-type-errors.csv || status=$$?; \
	  if [ $$status -ne 0 ] && [ $$status -ne 3 ]; then exit $$status; fi; \
	  echo; echo "bulkops exited $$status (3 = Completed with errors: the sample has rows that are meant to be rejected)"
	@echo
	@echo "Web console: http://127.0.0.1:$${BULKOPS_CONSOLE_PORT:-3002}/  (sign in with any tenant, e.g. demo, and an e-mail)"
	@echo "The local stack is still running (logs in $(TOOLS)/run/). Stop it with: make stack-down"
	@echo "More: export BULKOPS_TOKEN=\$$(bin/bulkops token); bin/bulkops jobs; bin/bulkops template queue --example"

demo-s3: stack-up ## the same import by a plain S3 PutObject under imports/<tenant>/<type>/ (no API)
	$(ENV) && ./bin/demo -file samples/work-type.csv -tenant demo -type work-type

token: build ## print a local API token for tenant demo (the stack's dev server verifies it)
	@./bin/bulkops token --tenant demo --user admin@demo.example

# ------------------------------------------------------------------- test
.PHONY: test test-unit test-integration lint
test: tools build web ## unit + integration tests on the local stack, template lint, ASL validation, the web console in headless Chromium
	@export BULKOPS_BACKEND=local; started=0; \
	if ! $(LOCAL)/stack.sh running; then $(LOCAL)/stack.sh up; started=1; else $(LOCAL)/stack.sh up; fi; \
	status=0; $(MAKE) --no-print-directory test-integration lint test-web || status=$$?; \
	if [ $$started = 1 ]; then $(LOCAL)/stack.sh down; fi; \
	exit $$status

# The second backend: LocalStack in host mode (no Docker), the app deployed
# into it from template.yaml by CloudFormation (sam build + sam deploy, as
# samlocal deploy does), then the integration test packages against it.
.PHONY: test-localstack localstack-up localstack-down
test-localstack: ## the integration test packages on LocalStack (host mode, no Docker) with the app deployed from template.yaml by CloudFormation
	$(LOCAL)/install.sh dynamodb python localstack
	$(GO) build -o bin/devserver ./cmd/devserver
	$(GO) build -o bin/sftpserver ./cmd/sftpserver
	@export BULKOPS_BACKEND=localstack; started=0; \
	if ! $(LOCAL)/stack.sh running; then $(LOCAL)/stack.sh up; started=1; fi; \
	status=0; { $(LOCAL)/localstack/deploy.sh && $(LOCAL)/localstack/test.sh; } || status=$$?; \
	if [ $$started = 1 ]; then $(LOCAL)/stack.sh down; fi; \
	exit $$status

localstack-up: ## start LocalStack (and DynamoDB Local, the dev server fronting the HTTP API, the SFTP server) on 127.0.0.1 and deploy the app into it from template.yaml
	$(LOCAL)/install.sh dynamodb python localstack
	$(GO) build -o bin/devserver ./cmd/devserver
	$(GO) build -o bin/sftpserver ./cmd/sftpserver
	BULKOPS_BACKEND=localstack $(LOCAL)/stack.sh up
	BULKOPS_BACKEND=localstack $(LOCAL)/localstack/deploy.sh

localstack-down: ## stop LocalStack (by PID)
	BULKOPS_BACKEND=localstack $(LOCAL)/stack.sh down

test-unit: ## unit tests only (no servers)
	$(GO) vet ./...
	$(GO) test -count=1 ./...

test-integration: ## every test, with the local stack required (it must be up)
	$(GO) vet ./...
	$(ENV) && BULKOPS_INTEGRATION=1 $(GO) test -count=1 -timeout 20m ./...

lint: ## cfn-lint, sam validate --lint, asl-validator, the ASL server's own tests
	$(TOOLS)/venv/bin/cfn-lint template.yaml
	$(SAM_ENV) $(TOOLS)/venv/bin/sam validate --lint --template template.yaml --region us-east-1
	$(LOCAL)/validate-asl.sh statemachines/*.asl.json
	$(LOCAL)/sfn/test.sh

# ------------------------------------------------------------ benchmarks
.PHONY: bench-engine
bench-engine: ## import engine throughput and peak memory, 5,000 and 1,000,000 rows (docs/import-engine-benchmarks.md)
	$(GO) test -run '^$$' -bench BenchmarkEngine -benchmem -benchtime 3x -timeout 30m ./shared/csvimport

.PHONY: bench-export
bench-export: ## export writer: 10,000, 100,000 and 1,000,000 objects to a split ZIP, default and with options, wall time and peak memory (docs/export-benchmarks.md)
	$(GO) test -run '^$$' -bench BenchmarkExport -benchmem -benchtime 3x -timeout 30m ./shared/exportzip

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 60s); new failing inputs land in testdata/fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzScan$$' -fuzztime $(FUZZTIME) ./shared/csvread
	$(GO) test -run '^$$' -fuzz '^FuzzDecide$$' -fuzztime $(FUZZTIME) ./shared/csvimport
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME) ./shared/objecttype
	$(GO) test -run '^$$' -fuzz '^FuzzNormalizeName$$' -fuzztime $(FUZZTIME) ./shared/objecttype
	$(GO) test -run '^$$' -fuzz '^FuzzNeutralize$$' -fuzztime $(FUZZTIME) ./shared/objecttype
	$(GO) test -run '^$$' -fuzz '^FuzzInspect$$' -fuzztime $(FUZZTIME) ./shared/audiozip
	$(GO) test -run '^$$' -fuzz '^FuzzSpecNext$$' -fuzztime $(FUZZTIME) ./shared/schedule
	$(GO) test -run '^$$' -fuzz '^FuzzPlan$$' -fuzztime $(FUZZTIME) ./shared/csvexport
	$(GO) test -run '^$$' -fuzz '^FuzzLambdaAdapterPaths$$' -fuzztime $(FUZZTIME) ./shared/httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzParseHostKey$$' -fuzztime $(FUZZTIME) ./shared/delivery
	$(GO) test -run '^$$' -fuzz '^FuzzParseSignature$$' -fuzztime $(FUZZTIME) ./shared/notify

.PHONY: clean
clean: ## remove build outputs (keeps .tools)
	rm -rf bin .aws-sam

.PHONY: bench-import
ROWS ?= 5000,100000
bench-import: tools-stack build ## import workflow end to end on the local stack, ROWS rows (default 5,000 and 100,000), the write paths compared, DynamoDB Local's raw write rate (docs/import-workflow-benchmarks.md)
	@started=0; if ! $(LOCAL)/stack.sh running; then $(LOCAL)/stack.sh up; started=1; fi; \
	status=0; $(ENV) && BULKOPS_INTEGRATION=1 BULKOPS_BENCH_IMPORT_ROWS=$(ROWS) $(GO) test -run '^$$' -bench 'BenchmarkImport|BenchmarkDynamoDBLocalRawPut' -benchtime 1x -timeout 60m ./shared/importflow || status=$$?; \
	if [ $$started = 1 ]; then $(LOCAL)/stack.sh down; fi; exit $$status

.PHONY: bench-hostile
bench-hostile: tools-stack build ## memory of Prepare, ProcessChunk and Finalize over hostile file shapes, GOMEMLIMIT = each function's memory (docs/hostile-input-benchmarks.md)
	@started=0; if ! $(LOCAL)/stack.sh running; then $(LOCAL)/stack.sh up; started=1; fi; \
	status=0; $(ENV) && BULKOPS_INTEGRATION=1 $(GO) test -run '^$$' -bench 'BenchmarkHostile' -benchtime 1x -timeout 60m -v ./shared/importflow || status=$$?; \
	if [ $$started = 1 ]; then $(LOCAL)/stack.sh down; fi; exit $$status

.PHONY: bench-export-flow
bench-export-flow: tools-stack build ## export job end to end on the local stack, 10,000 and 100,000 objects from DynamoDB Local to a split ZIP in MinIO, next to DynamoDB Local's raw read rate; an incremental export of 1,000 changed among 100,000 (docs/export-benchmarks.md)
	@started=0; if ! $(LOCAL)/stack.sh running; then $(LOCAL)/stack.sh up; started=1; fi; \
	status=0; $(ENV) && BULKOPS_INTEGRATION=1 $(GO) test -run '^$$' -bench 'BenchmarkExportFlow|BenchmarkIncrementalExport' -benchtime 1x -timeout 30m ./shared/exportflow || status=$$?; \
	if [ $$started = 1 ]; then $(LOCAL)/stack.sh down; fi; exit $$status
