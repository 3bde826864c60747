import { parseAllDocuments } from '../bundled/yaml';
import { isImageField, MirrorLock } from './mirror-lock';

/**
 * Rewrites a YAML stream: every image of a pod spec (containers, init containers, ephemeral
 * containers, image volumes) is replaced by its mirror from the lock file. Throws, naming every
 * missing image, when the lock file lacks any; comments and formatting elsewhere are kept.
 */
export function rewriteManifestImages(text: string, lock: MirrorLock): string {
  const documents = parseAllDocuments(text);
  const missing = new Set<string>();
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors[0].message}`);
    visit(document.toJS(), [], (path, image) => {
      try {
        document.setIn(path, lock.resolveImage(image));
      } catch {
        missing.add(image);
      }
    });
  }
  if (missing.size > 0) {
    throw new Error(`not in the lock file (mirrored into ${lock.destination}): ${[...missing].sort().map((image) => `"${image}"`).join(', ')}; run \`trusted-registry mirror\` for them first`);
  }
  return documents.map((document) => document.toString()).join('');
}

function visit(value: unknown, path: string[], onImage: (path: string[], image: string) => void): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => visit(item, [...path, String(index)], onImage));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const itemPath = [...path, key];
      if (typeof item === 'string' && isImageField(itemPath)) {
        onImage(itemPath.map((part) => (/^[0-9]+$/.test(part) ? Number(part) : part)) as any, item);
      } else {
        visit(item, itemPath, onImage);
      }
    }
  }
}
