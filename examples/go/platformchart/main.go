// The platform chart of examples/typescript/platform-chart.ts, in Go: it synthesizes the same bytes.
package main

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/cdk8s-team/cdk8s-plus-go/cdk8splus27/v2"
	tr "github.com/cdk8s-trusted-registry/cdk8s-trusted-registry-go/cdk8strustedregistry"
)

func main() {
	app := cdk8s.NewApp(nil)
	chart := tr.NewTrustedRegistryChart(app, jsii.String("platform"), &tr.TrustedRegistryChartProps{
		Host:            jsii.String("registry.example.com"),
		Namespace:       jsii.String("images"),
		CreateNamespace: jsii.Bool(true),
		Labels:          &map[string]*string{"team": jsii.String("platform")},
		// The chart creates (and so owns) `monitoring`, so no tenant can claim the exempt name first;
		// cert-manager was installed by Helm and is declared as managed elsewhere.
		ExemptNamespaces:            jsii.Strings("kube-system", "monitoring", "cert-manager"),
		ExternallyManagedNamespaces: jsii.Strings("cert-manager"),
		CertManagerNamespace:        jsii.String("cert-manager"),
		PolicyMode:                  tr.PolicyMode_AUDIT,
		PullNamespaces:              jsii.Strings("team-a", "team-b"),
		Registry: &tr.PrivateRegistryOptions{
			Name:     jsii.String("registry"),
			Image:    tr.Images_REGISTRY(),
			Replicas: jsii.Number(2),
			// Several replicas sign upload state with one secret: a Secret with key `http-secret`.
			HttpSecret:   cdk8splus27.Secret_FromSecretName(app, jsii.String("RegistryHttpSecret"), jsii.String("registry-http")),
			WorkloadKind: tr.RegistryWorkloadKind_STATEFUL_SET,
			Storage: tr.RegistryStorage_NewClaim(&tr.NewClaimOptions{
				Size:             cdk8s.Size_Gibibytes(jsii.Number(200)),
				StorageClassName: jsii.String("shared-fs"),
				AccessMode:       cdk8splus27.PersistentVolumeAccessMode_READ_WRITE_MANY,
			}),
			// Generated in the cluster: no password or salt seed in the chart; CI pushes as `ci`.
			Htpasswd: tr.HtpasswdSource_Generated(&tr.RegistryCredentialsGeneratorOptions{
				Generation:   jsii.Number(2),
				PushUsername: jsii.String("ci"),
			}),
			Certificate: tr.RegistryCertificate_FromCertManager(&tr.CertManagerCertificateOptions{
				Duration:    cdk8s.Duration_Days(jsii.Number(60)),
				RenewBefore: cdk8s.Duration_Days(jsii.Number(20)),
			}),
			Ingress:          jsii.Bool(true),
			IngressClassName: jsii.String("nginx"),
			Config: &tr.RegistryConfigOptions{
				MinimumTls:    tr.TlsVersion_TLS_1_3,
				AuthRealm:     jsii.String("Example registry"),
				LogLevel:      jsii.String("warn"),
				DeleteEnabled: jsii.Bool(false),
			},
			Resources: &cdk8splus27.ContainerResources{
				Cpu:    &cdk8splus27.CpuResources{Request: cdk8splus27.Cpu_Millis(jsii.Number(250)), Limit: cdk8splus27.Cpu_Units(jsii.Number(2))},
				Memory: &cdk8splus27.MemoryResources{Request: cdk8s.Size_Mebibytes(jsii.Number(256)), Limit: cdk8s.Size_Gibibytes(jsii.Number(1))},
			},
		},
		NodeTrust: &tr.NodeTrustOptions{
			CaConfigMapName: jsii.String("registry-ca"),
			Mode:            tr.NodeTrustMode_CONTAINERD,
			// The API server's --service-cluster-ip-range: nodes map the host only to a ClusterIP inside it.
			ServiceCidrs: jsii.Strings("10.100.0.0/16"),
			Interval:     cdk8s.Duration_Minutes(jsii.Number(5)),
			// The pinned defaults; name your mirrored copies here.
			Image:        tr.Images_BUSYBOX(),
			KubectlImage: tr.Images_KUBECTL(),
			ShellImage:   tr.Images_SHELL(),
		},
		NetworkPolicy: &tr.RegistryNetworkPolicyOptions{
			NodeCidrs:                        jsii.Strings("10.0.0.0/16"),
			PushNamespaces:                   jsii.Strings("ci"),
			IngressControllerNamespaceLabels: &map[string]*string{"kubernetes.io/metadata.name": jsii.String("ingress-nginx")},
		},
	})
	chart.GrantPull(jsii.String("Monitoring"), &tr.GrantPullOptions{
		Namespaces:      jsii.Strings("observability"),
		ServiceAccounts: jsii.Strings("prometheus"),
	})
	app.Synth()
}
