import { Testing } from 'cdk8s';
import { PolicyMode, TrustedImagePolicy } from '../../src';
import { CORPUS, CORPUS_POLICY } from '../policy/admission-corpus';
import { Manifest } from '../util/manifests';
import { describeCorpusOnRealServer } from './real-server-corpus';

// The TrustedImagePolicy admission corpus (whatever test/policy/admission-corpus.ts holds) through
// a real API server: the JS harness must give the server's verdict on every case.
describeCorpusOnRealServer({
  title: 'the admission corpus on a real API server',
  cases: CORPUS,
  manifests: (mode: PolicyMode) => {
    const chart = Testing.chart();
    new TrustedImagePolicy(chart, 'TrustedImages', { ...CORPUS_POLICY, mode });
    return Testing.synth(chart) as Manifest[];
  },
  // A Docker Hub image: refused by the policy, valid for the API server.
  probe: {
    operation: 'CREATE',
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'apps',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
  },
});
