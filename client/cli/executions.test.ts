/**
 * `npm run executions -- list` pages: `--limit N` rows (default 50) and, when more exist, a hint
 * with the `--next-token` that lists the next ones (ListExecutions' maxResults and nextToken).
 * Against the local stack: test/executions-cli.test.ts.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { FAKE_CLIENT_CONFIG, scripted } from '../../test/fake-aws.ts';
import { listExecutionsPage } from '../executions.ts';
import { moreHint } from './executions.ts';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:assistant';
const item = (n: number) => ({ executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:run-${n}`, stateMachineArn: ARN, name: `run-${n}`, status: 'FAILED', startDate: new Date(n * 1000) });

describe('listExecutionsPage', () => {
  it('asks for min(limit, 1000) on every page, follows the token, and returns the token when more exist', async () => {
    const sfn = scripted(new SFNClient(FAKE_CLIENT_CONFIG));
    sfn.on('ListExecutionsCommand', { executions: [item(9), item(8), item(7)], nextToken: 't1' }).on('ListExecutionsCommand', { executions: [item(6), item(5), item(4)], nextToken: 't2' });
    const page = await listExecutionsPage(sfn.client, ARN, { status: 'FAILED', limit: 6 });
    expect(page.rows.map((r) => r.name)).toEqual(['run-9', 'run-8', 'run-7', 'run-6', 'run-5', 'run-4']);
    expect(page.nextToken).toBe('t2');
    expect(sfn.calls.map((c) => c.input)).toEqual([
      { stateMachineArn: ARN, statusFilter: 'FAILED', maxResults: 6 },
      { stateMachineArn: ARN, statusFilter: 'FAILED', maxResults: 6, nextToken: 't1' },
    ]);
    sfn.assertDone();
  });

  it('a short page (AWS may return fewer than maxResults) never drops rows between tokens', async () => {
    const sfn = scripted(new SFNClient(FAKE_CLIENT_CONFIG));
    sfn.on('ListExecutionsCommand', { executions: [item(9)], nextToken: 't1' }).on('ListExecutionsCommand', { executions: [item(8), item(7)], nextToken: 't2' });
    const page = await listExecutionsPage(sfn.client, ARN, { limit: 2, nextToken: 't0' });
    expect(page).toMatchObject({ nextToken: 't2' });
    expect(page.rows.map((r) => r.name)).toEqual(['run-9', 'run-8', 'run-7']);
    expect(sfn.calls[0]!.input).toMatchObject({ nextToken: 't0', maxResults: 2 });
    sfn.assertDone();
  });

  it('control: the last page has no token, and the listing says none', async () => {
    const sfn = scripted(new SFNClient(FAKE_CLIENT_CONFIG));
    sfn.on('ListExecutionsCommand', { executions: [item(1)] });
    expect(await listExecutionsPage(sfn.client, ARN)).toEqual({ rows: [expect.objectContaining({ name: 'run-1' })] });
    expect(sfn.calls[0]!.input).toMatchObject({ maxResults: 50 });
    sfn.assertDone();
  });
});

describe('moreHint', () => {
  it('local: the command for the next page; AWS logs: how many more and the --limit that shows them; none when all are shown', () => {
    expect(moreHint({ rows: [item(1)] as never, nextToken: 'abc' }, { status: 'FAILED', limit: 1, aws: false })).toBe(
      'More executions exist after these 1: the next ones with\n  npm run executions -- list --status FAILED --limit 1 --next-token abc\n  (or list more at once: --limit up to 1000)',
    );
    expect(moreHint({ rows: [item(1), item(2)] as never, more: 3 }, { limit: 2, aws: true, since: '7d' })).toBe(
      '3 more in the log window (7d): npm run executions -- --target aws list --since 7d --limit 5',
    );
    expect(moreHint({ rows: [item(1)] as never }, { limit: 50, aws: false })).toBeUndefined();
  });
});
