import { describe, expect, it } from 'vitest';
import { hrefOf, parseRoute } from './route.ts';

describe('hash routes', () => {
  it('round-trips every view, the tenants view included', () => {
    for (const route of [{ view: 'chat' }, { view: 'executions' }, { view: 'tenants' }, { view: 'usage' }, { view: 'execution', executionArn: 'arn:aws:states:x:1:execution:sm:a/b' }] as const) {
      expect(parseRoute(hrefOf(route))).toEqual(route);
    }
    expect(parseRoute('#/tenants/')).toEqual({ view: 'tenants' });
    expect(parseRoute('#/usage/')).toEqual({ view: 'usage' });
    // Anything else is the chat.
    expect(parseRoute('#/tenantsx')).toEqual({ view: 'chat' });
  });
});
