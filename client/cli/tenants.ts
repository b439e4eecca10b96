/**
 * `npm run tenants -- [--target local|aws] list [--json] | add <tenantId> --name "<store name>"
 * --return-days <n> [--plan <plan>] | suspend <tenantId> | resume <tenantId> | set-plan <tenantId>
 * <plan> | remove <tenantId> [--yes]`: stores
 * come and go without a redeploy (client/tenants.ts). Locally as the stack's operator; with
 * `--target aws`, the operator's own credentials and cdk-outputs.json.
 */
import { pathToFileURL } from 'node:url';
import { AdminError, addTenant, changeTenantStatus, listTenants, removeTenantData, requireTenant, setTenantPlan } from '../tenants.ts';
import { DEFAULT_PLAN, PLAN_NAMES } from '../tenant-model.ts';
import { listUsers, removeUser } from '../users.ts';
import { withAdminTarget } from './admin-target.ts';
import { parseCommandArgs, type CommandIo } from './command.ts';

const USAGE =
  'Usage: npm run tenants -- [--target local|aws] list [--json] | add <tenantId> --name "<store name>" --return-days <n> [--plan <plan>] | suspend <tenantId> | resume <tenantId> | set-plan <tenantId> <plan> | remove <tenantId> [--yes]\n' +
  `  plans: ${PLAN_NAMES.join(', ')} (default ${DEFAULT_PLAN})\n` +
  '  --target aws: [--outputs-file cdk-outputs.json] (your own AWS credentials)';
const COMMANDS = ['list', 'add', 'suspend', 'resume', 'set-plan', 'remove'];

export async function tenantsCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandArgs(argv, {
      json: { type: 'boolean', default: false },
      name: { type: 'string' },
      'return-days': { type: 'string' },
      plan: { type: 'string' },
      yes: { type: 'boolean', default: false },
    });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, tenantId, plan] = positionals;
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!command || !COMMANDS.includes(command) || (command !== 'list' && !tenantId)) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (command === 'set-plan' && !plan) {
    io.stderr.write(`tenants set-plan needs <tenantId> <plan>\n${USAGE}\n`);
    return 2;
  }
  if (command === 'add' && (values.name === undefined || values['return-days'] === undefined)) {
    io.stderr.write(`tenants add needs --name "<store name>" and --return-days <n>\n${USAGE}\n`);
    return 2;
  }
  return withAdminTarget(values, io, async (target, out) => {
    switch (command) {
      case 'list': {
        const [tenants, users] = await Promise.all([listTenants(target), listUsers(target)]);
        const rows = tenants.map((t) => ({ ...t, users: users.filter((u) => u.tenantId === t.tenantId).length }));
        if (values.json) out(JSON.stringify(rows, null, 2));
        else if (rows.length === 0) out('No tenants.');
        else for (const r of rows) out(`${r.tenantId.padEnd(16)} ${r.status.padEnd(9)} ${r.plan.padEnd(8)} ${String(r.users).padStart(3)} users  ${r.ordersTable.padEnd(28)} ${r.name}`);
        break;
      }
      case 'add': {
        const days = Number(values['return-days']);
        const row = await addTenant(target, { tenantId: tenantId!, name: values.name!, returnPolicyDays: days, ...(values.plan !== undefined ? { plan: values.plan } : {}) }, out);
        out(`Tenant ${row.tenantId} ("${row.name}", ${row.returnPolicyDays}-day returns, ${row.plan} plan) is ACTIVE. Add its users: npm run users --${values.target === 'aws' ? ' --target aws' : ''} add <username> --tenant ${row.tenantId}`);
        break;
      }
      case 'suspend':
      case 'resume': {
        const row = await changeTenantStatus(target, tenantId!, command === 'suspend' ? 'SUSPENDED' : 'ACTIVE');
        out(`Tenant ${row.tenantId} is ${row.status}.${row.status === 'SUSPENDED' ? ' Its users can sign in; their questions are refused until it is resumed.' : ''}`);
        break;
      }
      case 'set-plan': {
        const { row, previous } = await setTenantPlan(target, tenantId!, plan!);
        out(
          row.plan === previous
            ? `Tenant ${row.tenantId} is already on the ${row.plan} plan: nothing changed.`
            : `Tenant ${row.tenantId} is on the ${row.plan} plan (was ${previous}); its next question is admitted under the new limits.`,
        );
        break;
      }
      case 'remove': {
        const row = await requireTenant(target, tenantId!);
        const users = await listUsers(target, row.tenantId);
        if (users.length > 0 && !values.yes) {
          throw new AdminError(`Tenant ${row.tenantId} has ${users.length} user(s) (${users.map((u) => u.username).join(', ')}): pass --yes to disable and delete them with the store.`);
        }
        for (const u of users) {
          await removeUser(target, u.username);
          out(`user ${u.username} disabled and deleted`);
        }
        const removed = await removeTenantData(target, row, out);
        out(`Tenant ${removed.tenantId} removed${removed.backup ? `; its orders are kept in backup ${removed.backup}` : ''}.`);
        break;
      }
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await tenantsCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
