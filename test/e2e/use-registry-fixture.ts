import { RegistryFixture, RegistryFixtureOptions, startSynthesizedRegistry } from './registry-fixture';
import { killAllRegistries } from './registry-process';

/**
 * Registers, in the enclosing `describe`, a `beforeAll` that starts a synthesized registry
 * (`startSynthesizedRegistry(options)`) and an `afterAll` that disposes of it and kills any
 * registry process still running. Returns a stand-in for the fixture whose properties read
 * through to the started one, so tests and hooks declared after this call can use it directly.
 */
export function useRegistryFixture(options?: RegistryFixtureOptions): RegistryFixture {
  let fixture: RegistryFixture | undefined;

  beforeAll(async () => {
    fixture = await startSynthesizedRegistry(options);
  }, 60_000);

  afterAll(async () => {
    await fixture?.dispose();
    await killAllRegistries();
  });

  return new Proxy({} as RegistryFixture, {
    get(_target, property) {
      if (!fixture) {
        throw new Error(`the registry fixture is not started: read .${String(property)} in a test or a hook declared after useRegistryFixture()`);
      }
      return Reflect.get(fixture, property, fixture);
    },
  });
}
