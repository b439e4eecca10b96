/**
 * `npm run creds -- --user <username>`: prints, as JSON, the scoped credentials the mint step
 * would give a request of that user: AssumeRole on the tenant access role, by the mint-credentials
 * principal, with the tenant isolation session policy and tags. Local only; a debugging aid for
 * policy work (the workflow itself never prints or stores plaintext credentials).
 *
 * `npm run creds -- --operator`: prints the local operator's access keys, which open the web UI's
 * executions view (http://localhost:3000/#/executions). Local keys of the local stack only.
 */
import '../node-compat.ts';
import { parseArgs } from 'node:util';
import { STSClient } from '@aws-sdk/client-sts';
import { tenantIsolationPolicy } from '../../../tasks/policies.ts';
import { TableNames } from '../../../tasks/tables.ts';
import { assumeTenantRole } from '../../../tasks/tenant-credentials.ts';
import { explainConnectionError, findUser, principalConfig, readLocalEnvOrExit } from '../../../client/cli/targets.ts';

const { values } = parseArgs({
  options: {
    user: { type: 'string' },
    operator: { type: 'boolean', default: false },
    duration: { type: 'string', default: '900' },
    'data-dir': { type: 'string', default: '.data' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help || (!values.user && !values.operator)) {
  process.stderr.write('Usage: npm run creds -- --user <username> [--duration 900..3600] [--data-dir DIR] | --operator [--data-dir DIR]\n');
  process.exit(values.help ? 0 : 2);
}

const env = readLocalEnvOrExit(values['data-dir']);
if (values.operator) {
  const config = principalConfig(env, 'operator');
  const webUi = `http://localhost:${new URL(env.endpoints.graphql).port}/#/executions`;
  const output = { principal: env.principals.operator?.arn, ...config.credentials, endpoint: config.endpoint, region: config.region, webUi };
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  process.exit(0);
}
let user;
try {
  user = findUser(env, values.user!);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}

const location = { partition: 'aws', region: env.region, accountId: env.accountId };
const tables = new TableNames();
const sts = new STSClient(principalConfig(env, 'mint-credentials'));
try {
  const credentials = await assumeTenantRole(
    { tenantId: user.tenantId, userId: user.sub },
    { sts, tenantAccessRoleArn: env.tenantAccessRoleArn, location, tables, durationSeconds: Number(values.duration) },
  );
  const output = {
    username: user.username,
    tenantId: user.tenantId,
    userId: user.sub,
    roleArn: env.tenantAccessRoleArn,
    sessionTags: { TenantId: user.tenantId, UserId: user.sub },
    sessionPolicy: tenantIsolationPolicy({ location, tables }, user.tenantId, user.sub),
    endpoint: env.endpoints.edge,
    region: env.region,
    credentials,
  };
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
} catch (err) {
  process.stderr.write(`${explainConnectionError(err, env)}\n`);
  process.exitCode = 1;
} finally {
  sts.destroy();
}
