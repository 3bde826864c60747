// The whole product with its defaults, as examples/typescript/default-chart.ts: same output.
package main

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	tr "github.com/cdk8s-trusted-registry/cdk8s-trusted-registry-go/cdk8strustedregistry"
)

func main() {
	app := cdk8s.NewApp(nil)
	tr.NewTrustedRegistryChart(app, jsii.String("trusted-registry"), nil)
	app.Synth()
}
