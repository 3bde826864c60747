#!/usr/bin/env bash
# Generates the Go modules with jsii-pacmak into dist-packages/go/ (go build checks each) and builds
# examples/go/ against them into examples/go/bin/, where test/examples/examples.test.ts runs them.
# cdk8s, cdk8s-plus-27 and constructs are generated here from their npm packages as well: the Go
# module proxy this project's CI reaches answers 403 for cdk8s-core-go and cdk8s-plus-go. Needs Go
# 1.25 or later, and the proxy for jsii-runtime-go.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"

rm -rf dist-packages/go examples/go/bin
npx jsii-pacmak . node_modules/cdk8s-plus-27 node_modules/cdk8s node_modules/constructs --target go --outdir dist-packages
(cd examples/go && go build -o bin/ ./...)
