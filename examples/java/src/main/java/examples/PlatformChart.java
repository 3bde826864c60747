package examples;

import io.github.cdk8s_trusted_registry.CertManagerCertificateOptions;
import io.github.cdk8s_trusted_registry.GrantPullOptions;
import io.github.cdk8s_trusted_registry.HtpasswdSource;
import io.github.cdk8s_trusted_registry.Images;
import io.github.cdk8s_trusted_registry.NewClaimOptions;
import io.github.cdk8s_trusted_registry.NodeTrustMode;
import io.github.cdk8s_trusted_registry.NodeTrustOptions;
import io.github.cdk8s_trusted_registry.PolicyMode;
import io.github.cdk8s_trusted_registry.PrivateRegistryOptions;
import io.github.cdk8s_trusted_registry.RegistryCertificate;
import io.github.cdk8s_trusted_registry.RegistryConfigOptions;
import io.github.cdk8s_trusted_registry.RegistryCredentialsGeneratorOptions;
import io.github.cdk8s_trusted_registry.RegistryNetworkPolicyOptions;
import io.github.cdk8s_trusted_registry.RegistryStorage;
import io.github.cdk8s_trusted_registry.RegistryWorkloadKind;
import io.github.cdk8s_trusted_registry.TlsVersion;
import io.github.cdk8s_trusted_registry.TrustedRegistryChart;
import java.util.List;
import java.util.Map;
import org.cdk8s.App;
import org.cdk8s.Duration;
import org.cdk8s.Size;
import org.cdk8s.plus27.ContainerResources;
import org.cdk8s.plus27.Cpu;
import org.cdk8s.plus27.CpuResources;
import org.cdk8s.plus27.MemoryResources;
import org.cdk8s.plus27.PersistentVolumeAccessMode;
import org.cdk8s.plus27.Secret;

/** The platform chart of examples/typescript/platform-chart.ts, in Java: it synthesizes the same bytes. */
public final class PlatformChart {
    public static void main(final String[] args) {
        App app = new App();
        TrustedRegistryChart chart = TrustedRegistryChart.Builder.create(app, "platform")
                .host("registry.example.com")
                .namespace("images")
                .createNamespace(true)
                .labels(Map.of("team", "platform"))
                // The chart creates (and so owns) `monitoring`, so no tenant can claim the exempt name first;
                // cert-manager was installed by Helm and is declared as managed elsewhere.
                .exemptNamespaces(List.of("kube-system", "monitoring", "cert-manager"))
                .externallyManagedNamespaces(List.of("cert-manager"))
                .certManagerNamespace("cert-manager")
                .policyMode(PolicyMode.AUDIT)
                .pullNamespaces(List.of("team-a", "team-b"))
                .registry(PrivateRegistryOptions.builder()
                        .name("registry")
                        .image(Images.REGISTRY)
                        .replicas(2)
                        // Several replicas sign upload state with one secret: a Secret with key `http-secret`.
                        .httpSecret(Secret.fromSecretName(app, "RegistryHttpSecret", "registry-http"))
                        .workloadKind(RegistryWorkloadKind.STATEFUL_SET)
                        .storage(RegistryStorage.newClaim(NewClaimOptions.builder()
                                .size(Size.gibibytes(200))
                                .storageClassName("shared-fs")
                                .accessMode(PersistentVolumeAccessMode.READ_WRITE_MANY)
                                .build()))
                        // Generated in the cluster: no password or salt seed in the chart; CI pushes as `ci`.
                        .htpasswd(HtpasswdSource.generated(RegistryCredentialsGeneratorOptions.builder()
                                .generation(2)
                                .pushUsername("ci")
                                .build()))
                        .certificate(RegistryCertificate.fromCertManager(CertManagerCertificateOptions.builder()
                                .duration(Duration.days(60))
                                .renewBefore(Duration.days(20))
                                .build()))
                        .ingress(true)
                        .ingressClassName("nginx")
                        .config(RegistryConfigOptions.builder()
                                .minimumTls(TlsVersion.TLS_1_3)
                                .authRealm("Example registry")
                                .logLevel("warn")
                                .deleteEnabled(false)
                                .build())
                        .resources(ContainerResources.builder()
                                .cpu(CpuResources.builder().request(Cpu.millis(250)).limit(Cpu.units(2)).build())
                                .memory(MemoryResources.builder().request(Size.mebibytes(256)).limit(Size.gibibytes(1)).build())
                                .build())
                        .build())
                .nodeTrust(NodeTrustOptions.builder()
                        .caConfigMapName("registry-ca")
                        .mode(NodeTrustMode.CONTAINERD)
                        // The API server's --service-cluster-ip-range: nodes map the host only to a ClusterIP inside it.
                        .serviceCidrs(List.of("10.100.0.0/16"))
                        .interval(Duration.minutes(5))
                        // The pinned defaults; name your mirrored copies here.
                        .image(Images.BUSYBOX)
                        .kubectlImage(Images.KUBECTL)
                        .shellImage(Images.SHELL)
                        .build())
                .networkPolicy(RegistryNetworkPolicyOptions.builder()
                        .nodeCidrs(List.of("10.0.0.0/16"))
                        .pushNamespaces(List.of("ci"))
                        .ingressControllerNamespaceLabels(Map.of("kubernetes.io/metadata.name", "ingress-nginx"))
                        .build())
                .build();
        chart.grantPull("Monitoring", GrantPullOptions.builder()
                .namespaces(List.of("observability"))
                .serviceAccounts(List.of("prometheus"))
                .build());
        app.synth();
    }
}
