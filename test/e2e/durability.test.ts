import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { describeWithBinaries } from '../util/binaries';
import { OciImage, readOciBlobs, ociManifestDigest, writeOciImage } from './oci-image';
import { sha256Digest } from './registry-client';
import { useRegistryFixture } from './use-registry-fixture';

const MIB = 1024 * 1024;
const ROUNDS = 3;

/** An image pushed in some round, and what became of its push. */
interface PushAttempt {
  readonly image: OciImage;
  readonly repository: string;
  /** The digest skopeo reported: set only when the push completed before the kill. */
  readonly pushedDigest?: string;
}

describeWithBinaries('durability of the synthesized registry storage across SIGKILL', ['docker-registry', 'skopeo', 'openssl'], () => {
  const fixture = useRegistryFixture();

  /** Pulls the image by digest into a fresh layout and checks every blob byte for byte. */
  async function expectPullsBackIdentical(image: OciImage, repository: string, pulledDir: string): Promise<void> {
    await fixture.skopeo.pullByDigest(repository, image.manifestDigest, pulledDir, 'pulled');
    expect(ociManifestDigest(pulledDir, 'pulled')).toBe(image.manifestDigest);
    const pulled = readOciBlobs(pulledDir);
    expect([...pulled.keys()].sort()).toEqual([...image.blobs.keys()].sort());
    for (const [digest, bytes] of image.blobs) {
      expect(pulled.get(digest)!.equals(bytes)).toBe(true);
    }
  }

  const storagePath = (...parts: string[]) => join(fixture.materialized.storageDir, 'docker/registry/v2', ...parts);
  const hex = (digest: string) => digest.slice('sha256:'.length);

  /** Whether a link file exists but does not hold a digest (torn by the kill). */
  function isTornLink(link: string): boolean {
    return existsSync(link) && !/^sha256:[a-f0-9]{64}$/.test(readFileSync(link, 'utf-8'));
  }

  /**
   * Files of an interrupted push that the kill left half-written and that a re-push does not
   * rewrite: the repository's `_layers` link of a config or layer blob, and the manifest's data
   * file (the registry skips writing data that already exists).
   */
  function unhealableTornFiles(image: OciImage, repository: string): string[] {
    const blobLinks = [...image.blobs.keys()]
      .filter((digest) => digest !== image.manifestDigest)
      .map((digest) => storagePath('repositories', repository, '_layers/sha256', hex(digest), 'link'))
      .filter(isTornLink);
    const manifestData = storagePath('blobs/sha256', hex(image.manifestDigest).slice(0, 2), hex(image.manifestDigest), 'data');
    const manifestTorn = existsSync(manifestData) && sha256Digest(readFileSync(manifestData)) !== image.manifestDigest;
    return manifestTorn ? [...blobLinks, manifestData] : blobLinks;
  }

  test(`pushes that completed survive SIGKILL and restart; interrupted ones never serve wrong bytes (${ROUNDS} rounds)`, async () => {
    const completed: PushAttempt[] = [];
    let interruptedCount = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      // GIVEN one small image and three larger ones (different sizes, so their pushes end at
      // different moments)
      const images = [[32 * 1024], [2 * MIB, 2 * MIB], [4 * MIB, 4 * MIB], [6 * MIB, 6 * MIB]].map((layerSizes, index) =>
        writeOciImage(join(fixture.scratchDir, `round-${round}-image-${index}`), { tag: `r${round}`, layerSizes }));

      // WHEN they are pushed concurrently and the registry is SIGKILLed as soon as the small one
      // has been pushed (later in each round, so the kill lands at different stages)
      const pushes = images.map((image, index) => {
        const repository = `durability/image-${index}`;
        return fixture.skopeo.tryPush(image.dir, image.tag, repository)
          .then(({ digest }): PushAttempt => ({ image, repository, pushedDigest: digest }));
      });
      const first = await pushes[0];
      expect(first.pushedDigest).toBe(first.image.manifestDigest);
      await new Promise((resolve) => setTimeout(resolve, (round - 1) * 150));
      await fixture.process.kill();
      const attempts = await Promise.all(pushes);
      const interrupted = attempts.filter((attempt) => attempt.pushedDigest === undefined);
      interruptedCount += interrupted.length;

      // AND the registry is restarted on the same storage
      await fixture.restart();

      // THEN every push that completed, in this round or an earlier one, pulls back by digest byte for byte
      completed.push(...attempts.filter((attempt) => attempt.pushedDigest !== undefined));
      for (const attempt of completed) {
        expect(attempt.pushedDigest).toBe(attempt.image.manifestDigest);
      }
      await Promise.all(completed.map((attempt, index) =>
        expectPullsBackIdentical(attempt.image, attempt.repository, join(fixture.scratchDir, `pulled-${round}-${index}`))));

      // AND an interrupted push's manifest is absent (404) or whole (right bytes, intact blobs).
      // The one other outcome is a distribution 2.8 limitation, allowed only in exactly this
      // form: its filesystem driver writes link files in place (open, truncate, write), so a
      // kill inside a manifest PUT can leave the revision link torn; the registry then answers
      // 500 for that digest, never wrong bytes, until the manifest is pushed again.
      for (const attempt of interrupted) {
        const response = await fixture.client.getManifest(attempt.repository, attempt.image.manifestDigest);
        if (response.status === 500) {
          expect(isTornLink(storagePath('repositories', attempt.repository, '_manifests/revisions/sha256', hex(attempt.image.manifestDigest), 'link'))).toBe(true);
        } else if (response.status === 200) {
          await expect(fixture.client.verifyManifest(attempt.repository, attempt.image.manifestDigest)).resolves.toBeDefined();
        } else {
          expect(response.status).toBe(404);
        }
        // AND each of its blobs is served whole, or absent, or 500 exactly where its link is torn
        for (const digest of [...attempt.image.blobs.keys()].filter((d) => d !== attempt.image.manifestDigest)) {
          const blob = await fixture.client.request(`/v2/${attempt.repository}/blobs/${digest}`, { timeoutMs: 30_000 });
          const torn = isTornLink(storagePath('repositories', attempt.repository, '_layers/sha256', hex(digest), 'link'));
          expect(torn ? [500] : [200, 404]).toContain(blob.status);
          if (blob.status === 200) {
            expect(sha256Digest(blob.body)).toBe(digest);
          }
        }
      }

      // The same limitation elsewhere, with no self-healing: a kill inside a blob upload's final
      // PUT can tear the repository's `_layers` link (HEAD and GET of the blob then answer 500
      // there, and a re-push fails on it), and one inside a manifest PUT can tear the manifest's
      // data file (a re-push skips rewriting it). The registry serves none of it (checked above);
      // such an image is reported and not re-pushed.
      const retriable = interrupted.filter((attempt) => {
        const torn = unhealableTornFiles(attempt.image, attempt.repository);
        if (torn.length > 0) {
          // eslint-disable-next-line no-console
          console.warn(`round ${round}: the kill left half-written files of ${attempt.repository}:${attempt.image.tag}; delete them to push it again: ${torn.join(', ')}`);
        }
        return torn.length === 0;
      });

      // WHEN the other interrupted images are pushed again
      const retried = await Promise.all(retriable.map(async (attempt): Promise<PushAttempt> => ({
        ...attempt,
        pushedDigest: await fixture.skopeo.push(attempt.image.dir, attempt.image.tag, attempt.repository),
      })));
      completed.push(...retried);

      // THEN they pull back byte for byte too
      await Promise.all(retried.map((attempt, index) =>
        expectPullsBackIdentical(attempt.image, attempt.repository, join(fixture.scratchDir, `repulled-${round}-${index}`))));
      // AND every tag the registry lists resolves to a manifest whose blobs all match their
      // digests, and every image pushed so far is listed under its tag
      const listed = await fixture.client.verifyEverything();
      for (const attempt of completed) {
        expect(listed).toContainEqual({ repository: attempt.repository, reference: attempt.image.tag, digest: attempt.image.manifestDigest });
      }
    }

    // The kill must have landed while pushes were in flight, or the interrupted case was never tested.
    expect(interruptedCount).toBeGreaterThan(0);
  }, 110_000);
});
