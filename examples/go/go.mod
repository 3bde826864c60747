// The Go examples. The library, cdk8s, cdk8s-plus-27 and constructs are the modules jsii-pacmak
// generates into dist-packages/go/ from the same npm packages the TypeScript examples use
// (scripts/go-examples.sh, run by .ci/run); the Go module proxy this project's CI reaches does not
// serve cdk8s-core-go or cdk8s-plus-go.
module github.com/cdk8s-trusted-registry/cdk8s-trusted-registry/examples/go

go 1.25.0

require (
	github.com/aws/jsii-runtime-go v1.140.0
	github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2 v2.70.0
	github.com/cdk8s-team/cdk8s-plus-go/cdk8splus27/v2 v2.9.5
	github.com/cdk8s-trusted-registry/cdk8s-trusted-registry-go/cdk8strustedregistry v0.1.0
)

require (
	github.com/Masterminds/semver/v3 v3.5.0 // indirect
	github.com/aws/constructs-go/constructs/v10 v10.4.0 // indirect
	github.com/fatih/color v1.19.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/yuin/goldmark v1.7.16 // indirect
	golang.org/x/lint v0.0.0-20241112194109-818c5a804067 // indirect
	golang.org/x/mod v0.39.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/telemetry v0.0.0-20260811182544-a038080d80e5 // indirect
	golang.org/x/tools v0.49.0 // indirect
	golang.org/x/tools/cmd/godoc v0.1.0-deprecated // indirect
	golang.org/x/tools/godoc v0.1.0-deprecated // indirect
)

replace (
	github.com/aws/constructs-go/constructs/v10 => ../../dist-packages/go/constructs
	github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2 => ../../dist-packages/go/cdk8s
	github.com/cdk8s-team/cdk8s-plus-go/cdk8splus27/v2 => ../../dist-packages/go/cdk8splus27
	github.com/cdk8s-trusted-registry/cdk8s-trusted-registry-go/cdk8strustedregistry => ../../dist-packages/go/cdk8strustedregistry
)
