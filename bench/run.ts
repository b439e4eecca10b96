import '../infra/local/node-compat.ts';
/**
 * The benchmark runner. `npm run bench` runs every benchmark; `npm run bench -- <name> [...]` runs
 * the named ones. A benchmark is a module in bench/ exporting `name`, `description` and `run()`;
 * list it in BENCHMARKS below. Benchmarks measure and print: they never fail on a slow number.
 */
import * as dataPlane from './data-plane.ts';
import * as workflow from './workflow.ts';
import * as api from './api.ts';
import * as bundles from './bundles.ts';
import * as fanout from './fanout.ts';
import * as signInFlood from './sign-in-flood.ts';
import * as stream from './stream.ts';
import * as noisyNeighbour from './noisy-neighbour.ts';
import * as calls from './calls.ts';

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(): Promise<void>;
}

const BENCHMARKS: readonly Benchmark[] = [dataPlane, workflow, api, bundles, fanout, signInFlood, stream, noisyNeighbour, calls];

function printList(out: NodeJS.WriteStream): void {
  out.write('Benchmarks (npm run bench -- <name>):\n');
  const width = Math.max(...BENCHMARKS.map((b) => b.name.length));
  for (const b of BENCHMARKS) out.write(`  ${b.name.padEnd(width)}  ${b.description}\n`);
}

async function main(args: string[]): Promise<number> {
  const unknown = args.filter((a) => !BENCHMARKS.some((b) => b.name === a));
  if (unknown.length > 0) {
    process.stderr.write(`Unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n`);
    printList(process.stderr);
    return 2;
  }
  const selected = args.length > 0 ? BENCHMARKS.filter((b) => args.includes(b.name)) : BENCHMARKS;
  for (const bench of selected) {
    process.stdout.write(`== ${bench.name}: ${bench.description}\n`);
    await bench.run();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`Benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
