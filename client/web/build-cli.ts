/**
 * `npm run web:build`: builds the web UI.
 *
 *   npm run web:build                     the local build (cached; npm start also builds it when needed)
 *   npm run web:build -- --aws            client/web/dist with config.json from cdk-outputs.json:
 *                                         static files to host anywhere (S3 + CloudFront, any web server)
 *   npm run web:build -- --aws --outputs FILE --stack NAME --out DIR
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { awsWebConfig, buildWebUi, WEB_ROOT, writeWebConfig } from './build.ts';

const { values } = parseArgs({
  options: {
    aws: { type: 'boolean', default: false },
    outputs: { type: 'string', default: 'cdk-outputs.json' },
    stack: { type: 'string' },
    out: { type: 'string', default: path.join(path.relative(process.cwd(), WEB_ROOT) || '.', 'dist') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run web:build [-- --aws [--outputs cdk-outputs.json] [--stack NAME] [--out client/web/dist]]\n');
  process.exit(0);
}

try {
  if (values.aws) {
    // Read the outputs first: a missing deployment fails before the build.
    const config = awsWebConfig(JSON.parse(readFileSync(values.outputs, 'utf8')) as Record<string, Record<string, string>>, values.stack);
    const built = await buildWebUi({ outDir: values.out });
    await writeWebConfig(built.dir, config);
    process.stdout.write(`Built the web UI for ${config.graphqlUrl} into ${path.relative(process.cwd(), built.dir)}/ in ${built.ms} ms\n`);
  } else {
    const built = await buildWebUi();
    process.stdout.write(`${built.cached ? 'Up to date' : `Built in ${built.ms} ms`}: ${path.relative(process.cwd(), built.dir)}/ (npm start serves it at http://localhost:3000)\n`);
  }
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(`${e.code === 'ENOENT' ? `${e.path ?? values.outputs} not found: deploy first (npm run deploy).` : e.message}\n`);
  process.exit(1);
}
