/**
 * The field guard on a schema deeper than the API's (whose documents cannot pass depth 2): the
 * depth limit, the resolver count limit and the authorization of fields reached through fragments.
 */
import { buildSchema, execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { depthOf, guardedFieldResolver } from './field-guard.ts';

const schema = buildSchema(`
  type Node { name: String, child: Node, secret: String }
  type Query { root: Node, count: Int }
`);
const tree = (depth: number): unknown => (depth === 0 ? null : { name: `n${depth}`, secret: 's', child: tree(depth - 1) });

function run(query: string, options: { depth?: number; resolvers?: number; denied?: string[] } = {}) {
  const authorized: string[] = [];
  let invoked = 0;
  const fieldResolver = guardedFieldResolver({
    queryDepthLimit: options.depth ?? 3,
    resolverCountLimit: options.resolvers ?? 1,
    authorize: (type, field) => {
      authorized.push(`${type}.${field}`);
      return !(options.denied ?? []).includes(`${type}.${field}`);
    },
    resolver: (type, field) =>
      type === 'Query'
        ? async () => {
            invoked++;
            return field === 'root' ? tree(10) : 1;
          }
        : undefined,
  });
  return Promise.resolve(execute({ schema, document: parse(query), fieldResolver })).then((result) => ({ result, authorized, invoked }));
}

describe('field guard: query depth limit', () => {
  it('serves a query as deep as the limit (control)', async () => {
    const { result } = await run('{ root { child { name } } }', { depth: 3 });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ root: { child: { name: 'n9' } } });
  });

  it('refuses the fields one level deeper, saying what the limit is, however they are reached', async () => {
    for (const query of ['{ root { child { child { name } } } }', '{ root { ...F } } fragment F on Node { child { ... on Node { child { name } } } }']) {
      const { result } = await run(query, { depth: 3 });
      expect(result.errors?.map((e) => e.message)).toEqual(["The query is deeper than this API's limit of 3 nested levels."]);
      expect(result.data).toEqual({ root: { child: { child: { name: null } } } });
    }
  });

  it('counts levels, not list indices', () => {
    expect(depthOf({ prev: { prev: { prev: undefined, key: 'root', typename: 'Query' }, key: 0, typename: undefined }, key: 'name', typename: 'Node' })).toBe(2);
  });
});

describe('field guard: resolver count limit', () => {
  it('invokes resolvers up to the limit and refuses the rest, saying what the limit is', async () => {
    const { result, invoked } = await run('{ a: count b: count c: count }', { resolvers: 2 });
    expect(invoked).toBe(2);
    expect(result.errors?.map((e) => e.message)).toEqual(["The request invokes more resolvers than this API's limit of 2."]);
  });

  it('does not count fields without a resolver (control)', async () => {
    const { result, invoked } = await run('{ root { name child { name } } }', { resolvers: 1 });
    expect(result.errors).toBeUndefined();
    expect(invoked).toBe(1);
  });
});

describe('field guard: authorization', () => {
  it('asks about every field with its real parent type, through fragments and aliases', async () => {
    const { authorized } = await run('{ r: root { ...F ... on Node { s: secret } } } fragment F on Node { name }');
    expect(authorized.sort()).toEqual(['Node.name', 'Node.secret', 'Query.root']);
  });

  it('refuses a denied nested field in a fragment without running anything for it', async () => {
    const { result } = await run('{ root { name ... on Node { secret } } }', { denied: ['Node.secret'] });
    expect(result.data).toEqual({ root: { name: 'n10', secret: null } });
    expect(result.errors?.map((e) => e.message)).toEqual(['Not Authorized to access secret on type Node']);
  });

  it('refuses a denied root field before its resolver runs', async () => {
    const { result, invoked } = await run('{ ... on Query { c: count } }', { denied: ['Query.count'] });
    expect(invoked).toBe(0);
    expect(result.errors?.[0]?.message).toBe('Not Authorized to access count on type Query');
  });
});
