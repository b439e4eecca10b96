/**
 * The house rules that lint cannot see (ARCHITECTURE.md, "The house"): no import cycle, not even
 * through `import type` (eslint's no-cycle skips type imports), and no source file over 500 lines.
 * The graph is read with TypeScript's own pre-processor: static, type-only, re-exported and dynamic
 * imports alike.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAX_LINES = 500;

/** Tracked and not-ignored untracked source files, repo-relative. */
function sourceFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.tsx', '*.mjs'], { cwd: ROOT, encoding: 'utf8' });
  return [...new Set(out.split('\n').filter(Boolean))].filter((f) => !f.endsWith('.d.ts'));
}

const isTest = (file: string) => /\.test\.tsx?$/.test(file) || file.startsWith('test/');

/** file -> the repo files it imports (relative specifiers only: packages cannot close a cycle). */
export function importGraph(files: readonly string[], read: (file: string) => string): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(read(file), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)))
      .filter((target) => known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle's files (Tarjan's strongly connected components of more than one file, or a self-import). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

describe('the house', () => {
  const files = sourceFiles();
  const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

  it('has no import cycle, counting type-only imports', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(cycles(importGraph(files, read))).toEqual([]);
  });

  it('control: the cycle finder sees a type-only cycle and a longer one', () => {
    const fake: Record<string, string> = {
      'a/pool.ts': "import type { LocalStack } from '../b/stack.ts';",
      'b/stack.ts': "import { Pool } from '../a/pool.ts';\nexport { x } from './c.ts';",
      'b/c.ts': "const d = await import('./d.ts');",
      'b/d.ts': "import './c.ts';",
      'b/e.ts': "import { Pool } from '../a/pool.ts'; import 'graphql';",
    };
    const found = cycles(importGraph(Object.keys(fake), (f) => fake[f]!));
    expect(found).toEqual(expect.arrayContaining([['a/pool.ts', 'b/stack.ts'], ['b/c.ts', 'b/d.ts']]));
    expect(found).toHaveLength(2);
  });

  it(`has no source file over ${MAX_LINES} lines (tests aside)`, () => {
    const long = files.filter((f) => !isTest(f)).map((f) => [f, read(f).trimEnd().split('\n').length] as const).filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });
});
