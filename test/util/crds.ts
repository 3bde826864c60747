import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import Ajv, { ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { Manifest } from './manifests';

const CRD_DIR = join(__dirname, '..', 'fixtures', 'crds');

/** A validator per `apiVersion/kind` served by the CRDs under test/fixtures/crds. */
function loadValidators(): Map<string, ValidateFunction> {
  // Kubernetes' structural schemas use `x-kubernetes-*` keywords and formats such as int32
  // that ajv does not know; they add nothing ajv could check here.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validators = new Map<string, ValidateFunction>();
  for (const group of readdirSync(CRD_DIR)) {
    for (const file of readdirSync(join(CRD_DIR, group))) {
      for (const document of parseAllDocuments(readFileSync(join(CRD_DIR, group, file), 'utf-8'))) {
        const crd = document.toJS();
        if (crd?.kind !== 'CustomResourceDefinition') continue;
        for (const version of crd.spec.versions) {
          if (version.served) {
            validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(version.schema.openAPIV3Schema));
          }
        }
      }
    }
  }
  return validators;
}

let validators: Map<string, ValidateFunction> | undefined;

/**
 * Validates every object against the openAPIV3Schema of the CRD that serves its apiVersion and
 * kind (the fixtures the typed imports were generated from). Throws one error listing every
 * problem, including objects no fixture CRD serves.
 */
export function validateAgainstCrds(manifests: Manifest[]): void {
  validators ??= loadValidators();
  const problems: string[] = [];
  for (const manifest of manifests) {
    const where = `${manifest.apiVersion}/${manifest.kind} ${manifest.metadata?.name}`;
    const validate = validators.get(`${manifest.apiVersion}/${manifest.kind}`);
    if (!validate) {
      problems.push(`${where}: no CRD in test/fixtures/crds serves it`);
    } else if (!validate(manifest)) {
      problems.push(...validate.errors!.map((error) => `${where}: ${error.instancePath || '/'} ${error.message}`));
    }
  }
  if (problems.length > 0) {
    throw new Error(`invalid custom resources:\n${problems.join('\n')}`);
  }
}

/** Whether an object's API group is one a fixture CRD defines (rather than a built-in one). */
export function isCustomResource(manifest: Manifest): boolean {
  validators ??= loadValidators();
  const group = manifest.apiVersion.split('/')[0];
  return [...validators.keys()].some((gvk) => gvk.startsWith(`${group}/`));
}
