/**
 * The operators' Usage view (local stack): pick a store and a UTC month; a chart of its questions
 * and tokens per day with its plan's limits as lines, and the month's totals with the estimated
 * model cost, read as `npm run usage` reads them. It opens only with the local operator's keys.
 */
import { useCallback, useEffect, useState } from 'react';
import type { TenantRow } from '../../tenant-model.ts';
import { describeCost, type TenantUsage } from '../../usage.ts';
import { REFUSAL_REASONS } from '../../usage-model.ts';
import type { OperatorConfig } from './config.ts';
import { operatorMessage } from './messages.ts';
import { OperatorKeysFor, OperatorView } from './OperatorKeys.tsx';
import { UsageApi } from './usage-api.ts';
import { UsageChart } from './UsageChart.tsx';

interface Props {
  config: OperatorConfig;
  api: UsageApi | undefined;
  onApi(api: UsageApi | undefined): void;
}

const MAY = 'read usage';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** An AdminError's sentence as the CLI prints it; an AWS error in the view's words. */
function messageOf(err: unknown): string {
  return (err as Error).name === 'AdminError' ? (err as Error).message : operatorMessage(err, MAY);
}

export function Usage({ config, api, onApi }: Props) {
  if (!api) return <UsageKeys config={config} onOpen={onApi} />;
  return (
    <OperatorView name="Usage" api={api} onApi={onApi}>
      <UsageReport api={api} />
    </OperatorView>
  );
}

function UsageKeys({ config, onOpen }: { config: OperatorConfig; onOpen(api: UsageApi): void }) {
  return (
    <OperatorKeysFor
      title="Usage: operators only"
      label="Open usage"
      create={(credentials) => new UsageApi(config, credentials)}
      prove={(api) => api.tenants() /* proves the keys may read the config table */}
      message={(err) => operatorMessage(err, MAY)}
      onOpen={onOpen}
    />
  );
}

function UsageReport({ api }: { api: UsageApi }) {
  const [tenants, setTenants] = useState<TenantRow[]>();
  const [tenantId, setTenantId] = useState<string>();
  const [month, setMonth] = useState(() => new Date().toISOString().slice(0, 7));
  const [usage, setUsage] = useState<TenantUsage>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    api.tenants().then(
      (rows) => {
        setTenants(rows);
        setTenantId((id) => id ?? rows[0]?.tenantId);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [api]);

  const load = useCallback(async () => {
    if (!tenantId || !month) return;
    setLoading(true);
    setError(undefined);
    try {
      setUsage(await api.month(tenantId, month));
    } catch (err) {
      setUsage(undefined);
      setError(messageOf(err));
    } finally {
      setLoading(false);
    }
  }, [api, tenantId, month]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <div className="filters">
        <label htmlFor="usage-tenant">Store</label>
        <select id="usage-tenant" value={tenantId ?? ''} onChange={(e) => setTenantId(e.target.value)} disabled={!tenants}>
          {(tenants ?? []).map((t) => (
            <option key={t.tenantId} value={t.tenantId}>
              {t.tenantId} ({t.plan})
            </option>
          ))}
        </select>
        <label htmlFor="usage-month">Month (UTC)</label>
        <input id="usage-month" type="month" className="month" value={month} required onChange={(e) => setMonth(e.target.value)} />
        <button type="button" className="secondary" onClick={() => void load()} disabled={loading || !tenantId}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {tenants && tenants.length === 0 && <p>No stores yet: npm run tenants -- add creates one.</p>}
      <div aria-live="polite" aria-busy={loading} data-testid="usage-report" data-tenant={usage?.tenantId} data-month={usage?.month}>
        {usage && !error && <MonthView usage={usage} />}
      </div>
    </>
  );
}

function MonthView({ usage }: { usage: TenantUsage }) {
  const empty = usage.questions === 0 && usage.refusedTotal === 0 && usage.tokens === 0;
  return (
    <>
      <h3>
        {usage.tenantId} in {usage.month}: {usage.plan} plan
      </h3>
      {empty ? (
        <p className="empty" data-testid="usage-empty">
          No usage recorded for {usage.tenantId} in {usage.month}: no question was admitted or refused, and no model tokens were used. Its plan allows{' '}
          {fmt(usage.limits.questionsPerTenantPerDay)} questions a day and {fmt(usage.limits.tokensPerTenantPerMonth)} tokens a month.
        </p>
      ) : (
        <UsageChart usage={usage} />
      )}
      <Totals usage={usage} />
    </>
  );
}

function Totals({ usage }: { usage: TenantUsage }) {
  const refusals = REFUSAL_REASONS.filter((r) => usage.refused[r] > 0);
  const rows: [string, string, string?][] = [
    ['Questions admitted', fmt(usage.questions), 'questions'],
    ['Answered', fmt(usage.answered), 'answered'],
    ['Refused', fmt(usage.refusedTotal), 'refused'],
    ...refusals.map((r): [string, string, string] => [`Refused: ${r}`, fmt(usage.refused[r]), `refused-${r}`]),
    ['Input tokens', fmt(usage.inputTokens)],
    ['Output tokens', fmt(usage.outputTokens)],
    ['Tokens of the monthly budget', `${fmt(usage.tokens)} of ${fmt(usage.limits.tokensPerTenantPerMonth)} (${usage.tokensOfBudgetPercent.toFixed(2)}%)`, 'budget'],
    ['Estimated model cost', usage.tokens === 0 ? '$0.0000' : describeCost(usage), 'cost'],
  ];
  return (
    <div className="table-wrap">
      <table className="runs usage-totals">
        <caption>Totals for {usage.month} (estimated at the on-demand prices of the models table)</caption>
        <tbody>
          {rows.map(([label, value, id]) => (
            <tr key={label} data-total={id}>
              <th scope="row">{label}</th>
              <td>{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
