/**
 * `npm run users -- [--target local|aws] list [--tenant <id>] [--json] | add <username> --tenant
 * <tenantId> | disable <username> | enable <username> | remove <username> | reset-password
 * <username>`: users come and go without a redeploy (client/users.ts). `add` and `reset-password`
 * print the temporary password once (the first sign-in changes it).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addUser, listUsers, removeUser, resetPassword, setUserEnabled, type IssuedPassword } from '../users.ts';
import { withAdminTarget, type AdminTarget } from './admin-target.ts';
import { parseCommandArgs, type CommandIo } from './command.ts';

const USAGE =
  'Usage: npm run users -- [--target local|aws] list [--tenant <id>] [--json] | add <username> --tenant <tenantId> | disable <username> | enable <username> | remove <username> | reset-password <username>\n' +
  '  --target aws: [--outputs-file cdk-outputs.json] (your own AWS credentials)';
const COMMANDS = ['list', 'add', 'disable', 'enable', 'remove', 'reset-password'];

function issued(p: IssuedPassword, target: AdminTarget, what: string): string {
  const lines = [`${what} ${p.username} (tenant ${p.tenantId}). Temporary password, shown once: ${p.temporaryPassword}`];
  if (p.readCommand) lines.push(`  kept in secret ${p.secretId}; read it with: ${p.readCommand}`);
  else {
    const dir = path.resolve(target.dataDir ?? '.data');
    const relative = path.relative(process.cwd(), dir);
    const file = path.join(relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : dir, 'local-users.json');
    lines.push(`  recorded in ${file}: npm run ask -- --user ${p.username} "What's your return policy?" signs in with it`);
  }
  if (target.kind === 'aws') lines.push('  the first sign-in sets a new password (npm run ask -- --target aws --password-stdin reads the secret\'s JSON)');
  return lines.join('\n');
}

export async function usersCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandArgs(argv, { json: { type: 'boolean', default: false }, tenant: { type: 'string' } });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, username] = positionals;
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!command || !COMMANDS.includes(command) || (command !== 'list' && !username) || (command === 'add' && !values.tenant)) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  return withAdminTarget(values, io, async (target, out) => {
    switch (command) {
      case 'list': {
        const rows = await listUsers(target, values.tenant);
        if (values.json) out(JSON.stringify(rows, null, 2));
        else if (rows.length === 0) out(`No users${values.tenant ? ` in tenant ${values.tenant}` : ''}.`);
        else for (const u of rows) out(`${u.username.padEnd(24)} ${u.tenantId.padEnd(16)} ${u.status.padEnd(22)} ${u.enabled ? 'enabled' : 'DISABLED'}`);
        break;
      }
      case 'add':
        out(issued(await addUser(target, username!, values.tenant!), target, 'Added'));
        break;
      case 'reset-password':
        out(issued(await resetPassword(target, username!), target, 'Reset the password of'));
        break;
      case 'disable':
      case 'enable': {
        const u = await setUserEnabled(target, username!, command === 'enable');
        out(`User ${u.username} is ${u.enabled ? 'enabled' : 'disabled: it cannot sign in or refresh its tokens, and its replays fail validation; an ID token it already holds is accepted until it expires (60 minutes at most: tokens are verified without calling Cognito)'}.`);
        break;
      }
      case 'remove': {
        const u = await removeUser(target, username!);
        out(`User ${u.username} (tenant ${u.tenantId}) disabled and deleted.`);
        // Order records are the store's (accounts, returns): they stay, reachable by no session, since
        // the user's id (sub) is never given to anyone again.
        out(`Their orders stay in ${u.tenantId}'s orders table under user id ${u.sub}; no one can sign in as that id again.`);
        break;
      }
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await usersCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
