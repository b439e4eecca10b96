/**
 * The operators' executions view (local stack): the list of executions with who asked, filterable
 * by status; one execution as the state machine graph with each state's input, output and timing;
 * Replay of a failed one. It opens only with the local operator's access keys.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ExecutionStatus } from '@aws-sdk/client-sfn';
import { executionNameOf, tokensText, type ExecutionDetail, type StateRun } from '../../executions.ts';
import type { OperatorConfig } from './config.ts';
import { durationMs, formatDuration, layout, outcomes, OUTCOME_LABELS, type AslDefinition } from './graph.ts';
import { operatorMessage } from './messages.ts';
import { OperatorKeysFor, OperatorView } from './OperatorKeys.tsx';
import { askerOf, OperatorApi, type ExecutionSummary } from './operator.ts';
import { hrefOf, navigate, type Route } from './route.ts';
import { StateGraph } from './StateGraph.tsx';

const STATUSES: ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

interface Props {
  config: OperatorConfig;
  route: Route;
  api: OperatorApi | undefined;
  onApi(api: OperatorApi | undefined): void;
}

export function Executions({ config, route, api, onApi }: Props) {
  if (!api) return <ExecutionKeys config={config} onOpen={onApi} />;
  return (
    <OperatorView name="Executions" api={api} onApi={onApi}>
      {route.view === 'execution' ? <ExecutionView key={route.executionArn} api={api} executionArn={route.executionArn} /> : <ExecutionList api={api} />}
    </OperatorView>
  );
}

function ExecutionKeys({ config, onOpen }: { config: OperatorConfig; onOpen(api: OperatorApi): void }) {
  return (
    <OperatorKeysFor
      title="Executions: operators only"
      label="Open executions"
      create={(credentials) => new OperatorApi(config, credentials)}
      prove={(api) => api.list(undefined, 1) /* proves the keys may list executions */}
      message={(err) => operatorMessage(err)}
      onOpen={onOpen}
    />
  );
}

const time = (d?: Date) => (d ? d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '-');

function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status.toLowerCase()}`}>{status}</span>;
}

function ExecutionList({ api }: { api: OperatorApi }) {
  const [status, setStatus] = useState<ExecutionStatus | ''>('');
  const [rows, setRows] = useState<ExecutionSummary[]>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    setError(undefined);
    try {
      setRows(await api.list(status || undefined));
    } catch (err) {
      setError(operatorMessage(err));
    } finally {
      setLoading(false);
    }
  }, [api, status]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <div className="filters">
        <label htmlFor="status-filter">Status</label>
        <select id="status-filter" value={status} onChange={(e) => setStatus(e.target.value as ExecutionStatus | '')}>
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button type="button" className="secondary" onClick={() => void load()} disabled={loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {rows && rows.length === 0 && <p>No executions{status ? ` with status ${status}` : ''}.</p>}
      {rows && rows.length > 0 && (
        <div className="table-wrap">
          <table className="runs" aria-busy={loading}>
            <caption className="visually-hidden">Executions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Tenant</th>
                <th scope="col">User</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">Execution</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.executionArn} data-status={r.status}>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{r.tenantId ?? '-'}</td>
                  <td>{r.username ?? '-'}</td>
                  <td>{time(r.startDate)}</td>
                  <td>{formatDuration(durationMs(r.startDate, r.stopDate))}</td>
                  <td>
                    <a href={hrefOf({ view: 'execution', executionArn: r.executionArn })}>
                      {r.replayOf ? 'Replay ' : ''}
                      {r.name}
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function pretty(json: string | undefined): string {
  if (json === undefined) return '(none)';
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

function ExecutionView({ api, executionArn }: { api: OperatorApi; executionArn: string }) {
  const [detail, setDetail] = useState<ExecutionDetail>();
  const [definition, setDefinition] = useState<AslDefinition>();
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState<string>();
  const [replaying, setReplaying] = useState(false);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const [d, def] = await Promise.all([api.show(executionArn), api.stateMachine()]);
        if (cancelled) return;
        setDetail(d);
        setDefinition(def);
        if (d.status === 'RUNNING') timer = setTimeout(() => void poll(), 600);
      } catch (err) {
        if (!cancelled) setError(operatorMessage(err));
      }
    };
    void poll();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api, executionArn]);

  const graph = useMemo(() => (definition ? layout(definition) : undefined), [definition]);
  const stateOutcomes = useMemo(() => (definition && detail ? outcomes(definition, detail.states, detail.status) : {}), [definition, detail]);
  const timings = useMemo(() => {
    const t: Record<string, string> = {};
    for (const s of detail?.states ?? []) t[s.name] = formatDuration(durationMs(s.enteredAt, s.exitedAt));
    return t;
  }, [detail]);

  async function replay() {
    setReplaying(true);
    setError(undefined);
    try {
      const started = await api.replay(executionArn);
      navigate({ view: 'execution', executionArn: started.executionArn });
    } catch (err) {
      setError(operatorMessage(err));
      setReplaying(false);
    }
  }

  const asker = askerOf(detail?.input);
  return (
    <article className="execution" aria-labelledby="execution-title">
      <p>
        <a href={hrefOf({ view: 'executions' })}>← All executions</a>
      </p>
      <h3 id="execution-title" className="arn">
        {executionNameOf(executionArn)}
      </h3>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!detail && !error && <p aria-live="polite">Loading…</p>}
      {detail && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd data-testid="execution-status">
              <StatusBadge status={detail.status} />
            </dd>
            <dt>Tenant</dt>
            <dd>{asker.tenantId ?? '-'}</dd>
            <dt>User</dt>
            <dd>{asker.username ?? '-'}</dd>
            <dt>Started</dt>
            <dd>{time(detail.startDate)}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(durationMs(detail.startDate, detail.stopDate))}</dd>
            {detail.usage && (
              <>
                <dt>Tokens</dt>
                <dd data-testid="execution-tokens">{tokensText(detail.usage)}</dd>
              </>
            )}
            {detail.error && (
              <>
                <dt>Error</dt>
                <dd className="error-text">
                  {detail.error}
                  {detail.message ? `: ${detail.message}` : ''}
                </dd>
              </>
            )}
            {asker.replayOf && (
              <>
                <dt>Replay of</dt>
                <dd>
                  <a href={hrefOf({ view: 'execution', executionArn: asker.replayOf })}>{executionNameOf(asker.replayOf)}</a>
                </dd>
              </>
            )}
          </dl>
          {detail.status === 'FAILED' && (
            <p>
              <button type="button" onClick={() => void replay()} disabled={replaying}>
                {replaying ? 'Starting replay…' : 'Replay'}
              </button>{' '}
              <span className="hint">Starts a new, linked execution from the recorded request; it is validated again from scratch.</span>
            </p>
          )}
          {graph && <StateGraph graph={graph} outcomes={stateOutcomes} timings={timings} selected={selected} onSelect={setSelected} />}
          <h4>States</h4>
          <ol className="states">
            {detail.states.map((s, i) => (
              <StateItem key={`${s.name}-${i}`} run={s} start={detail.startDate} outcome={OUTCOME_LABELS[stateOutcomes[s.name] ?? 'not-run']} open={selected === s.name} />
            ))}
          </ol>
        </>
      )}
    </article>
  );
}

function StateItem({ run, start, outcome, open }: { run: StateRun; start?: Date | undefined; outcome: string; open: boolean }) {
  const offset = start ? run.enteredAt.getTime() - start.getTime() : undefined;
  return (
    <li className="state" id={`state-${run.name}`} data-state={run.name}>
      <details open={open}>
        <summary>
          <strong>{run.name}</strong> {outcome} · {formatDuration(durationMs(run.enteredAt, run.exitedAt))}
          {offset !== undefined ? ` · at +${formatDuration(offset)}` : ''}
          {run.attempts > 1 ? ` · ${run.attempts} attempts` : ''}
        </summary>
        {run.failures.map((f, i) => (
          <p key={i} className="error-text">
            Failed: {f.error ?? '?'}
            {f.message ? `: ${f.message}` : ''}
          </p>
        ))}
        <p className="io-label">Input</p>
        <pre className="io">{pretty(run.input)}</pre>
        <p className="io-label">Output</p>
        <pre className="io">{pretty(run.output)}</pre>
      </details>
    </li>
  );
}
