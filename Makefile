# Parallax operator. `make run` is the main job; `make test` passes the tests.
SHELL := /bin/bash
IMG ?= ghcr.io/parallax-ai/parallax-operator:0.1.0
AGENTS_IMG ?= ghcr.io/parallax-ai/parallax-agents:0.1.0
PYTHON_AGENT_IMG ?= ghcr.io/parallax-ai/parallax-python-agent:0.1.0
export KUBEBUILDER_ASSETS ?= $(shell cd ../shared/envtest/bin 2>/dev/null && pwd)

node_modules: package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

.PHONY: build test test-python lint run local manifests install uninstall deploy undeploy docker-build bench chart-render krew-archive
build: node_modules ## Compile TypeScript to dist/
	npm run build

test: node_modules ## Run all tests: jest against a real kube-apiserver + etcd, then pytest for sdk/python
	npm test -- $(JEST_ARGS)

test-python: ## Only the Python SDK's tests (pytest in .venv)
	bash hack/python-env.sh
	cd sdk/python && ../../.venv/bin/python -m pytest $(PYTEST_ARGS)

lint: node_modules
	npm run lint

run: build ## Operator against the current kubeconfig, or a local control plane + demo when there is no cluster
	node dist/src/cmd/cli.js operator run

local: build ## Always the local control plane + demo
	node dist/src/cmd/cli.js operator local

manifests: node_modules ## Regenerate CRDs, TS types and the API reference from src/api/schema
	npm run manifests

install: ## Install or update the CRDs in the current cluster (server-side apply; see hack/tools/apply.sh for < 1.25)
	@bash hack/tools/apply.sh -f crds/

uninstall: ## Delete the CRDs, and with them every Agent, Pattern and Execution
	kubectl delete --ignore-not-found -f crds/

deploy: ## Deploy the operator with kustomize (config/default: namespace, CRDs, RBAC, manager)
	@bash hack/tools/apply.sh -k config/default

undeploy: ## Delete everything config/default made, CRDs included
	kubectl delete --ignore-not-found -k config/default

docker-build: ## Build the operator, example-agent and Python-agent images (needs a Docker engine)
	docker build -t $(IMG) .
	docker build -f Dockerfile.agents -t $(AGENTS_IMG) .
	docker build -f sdk/python/Dockerfile -t $(PYTHON_AGENT_IMG) .

HELM = $(shell bash hack/tools/helm.sh helm)
chart-render: node_modules ## Lint and render the Helm chart with the pinned helm (.tools/bin/helm)
	$(HELM) lint --strict charts/parallax
	$(HELM) template parallax charts/parallax -n parallax-system $(HELM_ARGS)

krew-archive: node_modules ## The kubectl plugin's release archive (dist/krew/) and plugins/parallax.yaml with its sha256
	bash hack/krew-archive.sh

bench: build ## Benchmarks (see docs/performance.md)
	npm run bench
