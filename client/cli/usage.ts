/**
 * `npm run usage -- [--target local|aws] [--tenant <id>] [--month YYYY-MM] [--days] [--json]`: per
 * tenant, its plan, questions admitted and answered, refused by reason, input and output tokens,
 * tokens against the plan's monthly budget, and the estimated model cost (client/usage.ts). The
 * current UTC month by default. Locally as the stack's operator; with `--target aws`, the
 * operator's own credentials and cdk-outputs.json.
 */
import { pathToFileURL } from 'node:url';
import { formatUsage, parseMonth, readUsage } from '../usage.ts';
import { withAdminTarget } from './admin-target.ts';
import { parseCommandArgs, type CommandIo } from './command.ts';

const USAGE =
  'Usage: npm run usage -- [--target local|aws] [--tenant <tenantId>] [--month YYYY-MM] [--days] [--json]\n' +
  '  --month: a UTC calendar month (default: the current one); --days: a line (or JSON entry) per day with usage\n' +
  '  --target aws: [--outputs-file cdk-outputs.json] (your own AWS credentials)';

export async function usageCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandArgs(argv, {
      tenant: { type: 'string' },
      month: { type: 'string' },
      days: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) {
    io.stderr.write(`Unexpected argument '${positionals[0]}'.\n${USAGE}\n`);
    return 2;
  }
  const now = (io.clock ?? (() => new Date()))();
  return withAdminTarget(values, io, async (target, out) => {
    const month = parseMonth(values.month, now);
    const rows = await readUsage(target, { month, ...(values.tenant !== undefined ? { tenantId: values.tenant } : {}), days: values.days });
    if (values.json) out(JSON.stringify({ month, tenants: rows }, null, 2));
    else for (const line of formatUsage(rows, month)) out(line);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await usageCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
