from cdk8s import App
from cdk8s_trusted_registry import TrustedRegistryChart

# The whole product with its defaults, as examples/typescript/default-chart.ts: same output.
app = App()
TrustedRegistryChart(app, "trusted-registry")
app.synth()
