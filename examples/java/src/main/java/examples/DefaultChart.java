package examples;

import io.github.cdk8s_trusted_registry.TrustedRegistryChart;
import org.cdk8s.App;

/** The whole product with its defaults, as examples/typescript/default-chart.ts: same output. */
public final class DefaultChart {
    public static void main(final String[] args) {
        App app = new App();
        new TrustedRegistryChart(app, "trusted-registry");
        app.synth();
    }
}
