"""The platform chart of examples/typescript/platform-chart.ts, in Python: it synthesizes the same bytes."""
from cdk8s import App, Duration, Size
import cdk8s_plus_27 as kplus
from cdk8s_trusted_registry import (
    HtpasswdSource, Images, NodeTrustMode, NodeTrustOptions, PolicyMode, PrivateRegistryOptions,
    RegistryCertificate, RegistryConfigOptions, RegistryNetworkPolicyOptions, RegistryStorage,
    RegistryWorkloadKind, TlsVersion, TrustedRegistryChart,
)

app = App()
chart = TrustedRegistryChart(
    app, "platform",
    host="registry.example.com",
    namespace="images",
    create_namespace=True,
    labels={"team": "platform"},
    # The chart creates (and so owns) `monitoring`, so no tenant can claim the exempt name first;
    # cert-manager was installed by Helm and is declared as managed elsewhere.
    exempt_namespaces=["kube-system", "monitoring", "cert-manager"],
    externally_managed_namespaces=["cert-manager"],
    cert_manager_namespace="cert-manager",
    policy_mode=PolicyMode.AUDIT,
    pull_namespaces=["team-a", "team-b"],
    registry=PrivateRegistryOptions(
        name="registry",
        image=Images.REGISTRY,
        replicas=2,
        # Several replicas sign upload state with one secret: a Secret with key `http-secret`.
        http_secret=kplus.Secret.from_secret_name(app, "RegistryHttpSecret", "registry-http"),
        workload_kind=RegistryWorkloadKind.STATEFUL_SET,
        storage=RegistryStorage.new_claim(
            size=Size.gibibytes(200),
            storage_class_name="shared-fs",
            access_mode=kplus.PersistentVolumeAccessMode.READ_WRITE_MANY,
        ),
        # Generated in the cluster: no password or salt seed in the chart; CI pushes as `ci`.
        htpasswd=HtpasswdSource.generated(generation=2, push_username="ci"),
        certificate=RegistryCertificate.from_cert_manager(duration=Duration.days(60), renew_before=Duration.days(20)),
        ingress=True,
        ingress_class_name="nginx",
        config=RegistryConfigOptions(
            minimum_tls=TlsVersion.TLS_1_3, auth_realm="Example registry", log_level="warn", delete_enabled=False,
        ),
        resources=kplus.ContainerResources(
            cpu=kplus.CpuResources(request=kplus.Cpu.millis(250), limit=kplus.Cpu.units(2)),
            memory=kplus.MemoryResources(request=Size.mebibytes(256), limit=Size.gibibytes(1)),
        ),
    ),
    node_trust=NodeTrustOptions(
        ca_config_map_name="registry-ca",
        mode=NodeTrustMode.CONTAINERD,
        # The API server's --service-cluster-ip-range: nodes map the host only to a ClusterIP inside it.
        service_cidrs=["10.100.0.0/16"],
        interval=Duration.minutes(5),
        # The pinned defaults; name your mirrored copies here.
        image=Images.BUSYBOX,
        kubectl_image=Images.KUBECTL,
        shell_image=Images.SHELL,
    ),
    network_policy=RegistryNetworkPolicyOptions(
        node_cidrs=["10.0.0.0/16"],
        push_namespaces=["ci"],
        ingress_controller_namespace_labels={"kubernetes.io/metadata.name": "ingress-nginx"},
    ),
)
chart.grant_pull("Monitoring", namespaces=["observability"], service_accounts=["prometheus"])
app.synth()
