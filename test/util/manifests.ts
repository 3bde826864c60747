import { readFileSync } from 'fs';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { Chart, Testing } from 'cdk8s';

/** A synthesized Kubernetes object. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string; [key: string]: any }; [key: string]: any };

/**
 * `apiVersion/kind` of every object in the Kubernetes 1.30 API, from its vendored schema (the one
 * imports/k8s.ts is generated from; the import itself holds only the kinds the library creates).
 */
const KUBERNETES_1_30_KINDS: ReadonlySet<string> = kubernetesKinds(join(__dirname, '..', 'fixtures', 'k8s-schemas', 'v1.30.0', '_definitions.json.gz'));

function kubernetesKinds(schemaPath: string): ReadonlySet<string> {
  const schema = JSON.parse(gunzipSync(readFileSync(schemaPath)).toString('utf-8'));
  const kinds = new Set<string>();
  for (const definition of Object.values<any>(schema.definitions)) {
    // Objects that can be written in a manifest: with a group-version-kind and metadata.
    if (!definition.properties?.metadata) {
      continue;
    }
    for (const { group, version, kind } of definition['x-kubernetes-group-version-kind'] ?? []) {
      kinds.add(`${group ? `${group}/` : ''}${version}/${kind}`);
    }
  }
  return kinds;
}

/** The objects of a chart, in output order. */
export function synth(chart: Chart): Manifest[] {
  return Testing.synth(chart) as Manifest[];
}

/** The single object of a kind (and name, when given); fails when there is not exactly one. */
export function findOne(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  }
  return found[0];
}

/**
 * Validates every object against the official Kubernetes JSON schemas bundled by
 * `kubernetes-models`, after checking that its apiVersion/kind exists in Kubernetes 1.30 (the
 * oldest API the chart targets). Throws one error listing every problem.
 */
export function validateAgainstKubernetesSchemas(manifests: Manifest[]): void {
  const problems: string[] = [];
  for (const manifest of manifests) {
    const gvk = `${manifest.apiVersion}/${manifest.kind}`;
    const where = `${gvk} ${manifest.metadata?.name}`;
    if (!KUBERNETES_1_30_KINDS.has(gvk)) {
      problems.push(`${where}: not an object of the Kubernetes 1.30 API`);
      continue;
    }
    const model = require(`kubernetes-models/${manifest.apiVersion}`)[manifest.kind];
    if (typeof model !== 'function') {
      problems.push(`${where}: kubernetes-models has no schema for it`);
      continue;
    }
    try {
      new model(manifest).validate();
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`invalid Kubernetes objects:\n${problems.join('\n')}`);
  }
}
