import { readFileSync } from 'fs';
import { join } from 'path';

// README code cannot rot: every TypeScript, Python, Java or Go block is a whole example file,
// which test/examples/examples.test.ts compiles and runs. The comment `<!-- example: <path> -->` on the
// line before a block names the file.
const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf-8');

interface Block { readonly language: string; readonly line: number; readonly source?: string; readonly code: string }

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]);
    if (!open) {
      continue;
    }
    const indent = open[1];
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```');
    const source = /^\s*<!-- example: (\S+) -->\s*$/.exec(lines[i - 1] ?? '')?.[1];
    blocks.push({
      language: open[2],
      line: i + 1,
      source,
      code: lines.slice(i + 1, end).map((line) => line.slice(indent.length)).join('\n') + '\n',
    });
    i = end;
  }
  return blocks;
}

const programs = codeBlocks(readme).filter((block) => ['ts', 'typescript', 'python', 'py', 'java', 'go'].includes(block.language));

test('the README has TypeScript, Python, Java and Go examples', () => {
  expect(programs.filter((block) => block.language.startsWith('t')).length).toBeGreaterThanOrEqual(5);
  expect(programs.filter((block) => block.language.startsWith('p')).length).toBeGreaterThanOrEqual(1);
  expect(programs.filter((block) => block.language === 'java').length).toBeGreaterThanOrEqual(1);
  expect(programs.filter((block) => block.language === 'go').length).toBeGreaterThanOrEqual(1);
});

test.each(programs.map((block) => [block.line, block] as const))('README.md:%i is an example file, verbatim', (_line, block) => {
  expect(block.source).toMatch(/^examples\/(typescript\/[a-z-]+\.ts|python\/[a-z_]+\.py|java\/src\/main\/java\/examples\/[A-Za-z]+\.java|go\/[a-z]+\/main\.go)$/);
  expect(block.code).toBe(readFileSync(join(root, block.source!), 'utf-8'));
});
