/**
 * The operators' tenants view (local stack): each store with its status, its plan, its users and
 * its orders table; Suspend and Resume per store, and its plan, with the same logic as
 * `npm run tenants -- suspend|resume|set-plan`.
 * It opens only with the local operator's access keys.
 */
import { Fragment, useCallback, useEffect, useState } from 'react';
import { PLAN_NAMES } from '../../tenant-model.ts';
import type { OperatorConfig } from './config.ts';
import { operatorMessage } from './messages.ts';
import { OperatorKeysFor, OperatorView } from './OperatorKeys.tsx';
import { TenantsApi, type TenantSummary, type TenantsOverview } from './tenants-api.ts';

interface Props {
  config: OperatorConfig;
  api: TenantsApi | undefined;
  onApi(api: TenantsApi | undefined): void;
}

const MAY = 'administer tenants';

export function Tenants({ config, api, onApi }: Props) {
  if (!api) return <TenantKeys config={config} onOpen={onApi} />;
  return (
    <OperatorView name="Tenants" api={api} onApi={onApi}>
      <TenantList api={api} />
    </OperatorView>
  );
}

function TenantKeys({ config, onOpen }: { config: OperatorConfig; onOpen(api: TenantsApi): void }) {
  return (
    <OperatorKeysFor
      title="Tenants: operators only"
      label="Open tenants"
      create={(credentials) => new TenantsApi(config, credentials)}
      prove={(api) => api.overview() /* proves the keys may read the config table */}
      message={(err) => operatorMessage(err, MAY)}
      onOpen={onOpen}
    />
  );
}

/** An AdminError's sentence as the CLI prints it; an AWS error in the view's words. */
function changeMessage(err: unknown): string {
  return (err as Error).name === 'AdminError' ? (err as Error).message : operatorMessage(err, MAY);
}

function TenantList({ api }: { api: TenantsApi }) {
  const [overview, setOverview] = useState<TenantsOverview>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [changing, setChanging] = useState<string>();
  const [announcement, setAnnouncement] = useState('');
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());

  const load = useCallback(async () => {
    setLoading(true);
    setError(undefined);
    try {
      setOverview(await api.overview());
    } catch (err) {
      setError(operatorMessage(err, MAY));
    } finally {
      setLoading(false);
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  async function change(tenant: TenantSummary, to: 'SUSPENDED' | 'ACTIVE') {
    setChanging(tenant.tenantId);
    setError(undefined);
    setAnnouncement('');
    try {
      const row = await api.setStatus(tenant.tenantId, to);
      setOverview((o) => o && { ...o, tenants: o.tenants.map((t) => (t.tenantId === row.tenantId ? { ...t, status: row.status } : t)) });
      setAnnouncement(`Store ${row.tenantId} is now ${row.status}.`);
    } catch (err) {
      setError(changeMessage(err));
    } finally {
      setChanging(undefined);
    }
  }

  async function changePlan(tenant: TenantSummary, plan: string) {
    setChanging(tenant.tenantId);
    setError(undefined);
    setAnnouncement('');
    try {
      const row = await api.setPlan(tenant.tenantId, plan);
      setOverview((o) => o && { ...o, tenants: o.tenants.map((t) => (t.tenantId === row.tenantId ? { ...t, plan: row.plan } : t)) });
      setAnnouncement(`Store ${row.tenantId} is now on the ${row.plan} plan.`);
    } catch (err) {
      setError(changeMessage(err));
    } finally {
      setChanging(undefined);
    }
  }

  const toggle = (tenantId: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(tenantId)) next.add(tenantId);
      return next;
    });

  return (
    <>
      <div className="filters">
        <button type="button" className="secondary" onClick={() => void load()} disabled={loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      <p role="status" aria-live="polite" className="notice-line" data-testid="tenants-announcement">
        {announcement}
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {overview?.usersUnavailable && (
        <p className="error" data-testid="users-unavailable">
          Users unavailable: {overview.usersUnavailable}
        </p>
      )}
      {overview && overview.tenants.length === 0 && <p>No stores yet: npm run tenants -- add creates one.</p>}
      {overview && overview.tenants.length > 0 && (
        <div className="table-wrap">
          <table className="runs tenants-table" aria-busy={loading || changing !== undefined}>
            <caption className="visually-hidden">Stores, with their status, plan, users and orders table</caption>
            <thead>
              <tr>
                <th scope="col">Store</th>
                <th scope="col">Status</th>
                <th scope="col">Plan</th>
                <th scope="col">Users</th>
                <th scope="col">Orders table</th>
                <th scope="col">Returns</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {overview.tenants.map((t) => (
                <Fragment key={t.tenantId}>
                  <TenantRowView
                    tenant={t}
                    expanded={open.has(t.tenantId)}
                    busy={changing === t.tenantId}
                    onToggle={() => toggle(t.tenantId)}
                    onChange={(to) => void change(t, to)}
                    onPlan={(plan) => void changePlan(t, plan)}
                  />
                  {open.has(t.tenantId) && t.users && (
                    <tr id={`users-${t.tenantId}`} className="users-row">
                      <td colSpan={7}>
                        <UserList tenant={t} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

interface RowProps {
  tenant: TenantSummary;
  expanded: boolean;
  busy: boolean;
  onToggle(): void;
  onChange(to: 'SUSPENDED' | 'ACTIVE'): void;
  onPlan(plan: string): void;
}

function TenantRowView({ tenant: t, expanded, busy, onToggle, onChange, onPlan }: RowProps) {
  const suspended = t.status === 'SUSPENDED';
  return (
    <tr data-tenant={t.tenantId} data-status={t.status} className={suspended ? 'suspended' : undefined}>
      <th scope="row">
        <span className="tenant-id">{t.tenantId}</span>
        {t.name && t.name !== t.tenantId && <span className="hint store-name"> {t.name}</span>}
      </th>
      <td>
        <span className={`badge status-${t.status.toLowerCase()}`} data-testid="tenant-status">
          {t.status}
        </span>
      </td>
      <td>
        <select aria-label={`Plan of ${t.tenantId}`} data-testid="tenant-plan" value={t.plan} disabled={busy} onChange={(e) => onPlan(e.target.value)}>
          {PLAN_NAMES.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </td>
      <td>
        {t.users ? (
          <button type="button" className="link" aria-expanded={expanded} aria-controls={`users-${t.tenantId}`} aria-label={`Users of ${t.tenantId}: ${t.users.length}`} onClick={onToggle}>
            <span data-testid="user-count">{t.users.length}</span> {expanded ? '▾' : '▸'}
          </button>
        ) : (
          '-'
        )}
      </td>
      <td>
        <code>{t.ordersTable}</code>
      </td>
      <td>{t.returnPolicyDays} days</td>
      <td>
        {t.status === 'ACTIVE' && (
          <button type="button" className="secondary" disabled={busy} aria-label={`Suspend ${t.tenantId}`} onClick={() => onChange('SUSPENDED')}>
            {busy ? 'Suspending…' : 'Suspend'}
          </button>
        )}
        {suspended && (
          <button type="button" disabled={busy} aria-label={`Resume ${t.tenantId}`} onClick={() => onChange('ACTIVE')}>
            {busy ? 'Resuming…' : 'Resume'}
          </button>
        )}
      </td>
    </tr>
  );
}

function UserList({ tenant }: { tenant: TenantSummary }) {
  const users = tenant.users ?? [];
  if (users.length === 0) return <p className="hint">No users: npm run users -- add &lt;username&gt; --tenant {tenant.tenantId} adds one.</p>;
  return (
    <ul className="users" aria-label={`Users of ${tenant.tenantId}`}>
      {users.map((u) => (
        <li key={u.username} data-username={u.username}>
          <strong>{u.username}</strong> {u.status}
          {u.enabled ? '' : ' (disabled)'}
        </li>
      ))}
    </ul>
  );
}
