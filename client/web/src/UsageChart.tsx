/**
 * The Usage view's chart, hand-drawn in SVG: two panels over the days of one UTC month.
 *  - Questions per day: answered, admitted but unanswered and refused, stacked; the plan's
 *    questions-per-tenant-per-day limit as a dashed line.
 *  - Tokens: input and output per day as stacked bars (left axis), and the month's running total as
 *    a line against the plan's monthly token budget, a dashed line (right axis).
 */
import type { TenantUsage } from '../../usage.ts';
import { chartDays, compact, niceMax, ticks, type ChartDay } from './usage-chart.ts';

const W = 720;
const H = 250;
const M = { top: 22, right: 70, bottom: 44, left: 64 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Series {
  key: string;
  label: string;
  value(d: ChartDay): number;
}

const QUESTION_SERIES: Series[] = [
  { key: 'answered', label: 'answered', value: (d) => d.answered },
  { key: 'unanswered', label: 'admitted, not answered', value: (d) => d.unanswered },
  { key: 'refused', label: 'refused', value: (d) => d.refused },
];
const TOKEN_SERIES: Series[] = [
  { key: 'input', label: 'input tokens', value: (d) => d.inputTokens },
  { key: 'output', label: 'output tokens', value: (d) => d.outputTokens },
];

export function UsageChart({ usage }: { usage: TenantUsage }) {
  const days = chartDays(usage.month, usage.days ?? []);
  return (
    <div className="usage-charts">
      <QuestionsPanel usage={usage} days={days} />
      <TokensPanel usage={usage} days={days} />
    </div>
  );
}

/** x of the middle of day i's slot, and a bar width. */
function xScale(count: number) {
  const slot = PLOT_W / count;
  return { slot, x: (i: number) => M.left + slot * i + slot / 2, bar: Math.max(2, slot * 0.7) };
}

function XAxis({ days }: { days: ChartDay[] }) {
  const { x } = xScale(days.length);
  const labelled = new Set([1, 5, 10, 15, 20, 25, days.length]);
  return (
    <g className="axis x-axis">
      <line x1={M.left} x2={M.left + PLOT_W} y1={M.top + PLOT_H} y2={M.top + PLOT_H} />
      {days.map((d, i) =>
        labelled.has(d.date) ? (
          <g key={d.day}>
            <line x1={x(i)} x2={x(i)} y1={M.top + PLOT_H} y2={M.top + PLOT_H + 4} />
            <text x={x(i)} y={M.top + PLOT_H + 17} textAnchor="middle">
              {d.date}
            </text>
          </g>
        ) : null,
      )}
      <text className="axis-label" x={M.left + PLOT_W / 2} y={H - 6} textAnchor="middle">
        day of {monthOf(days)} (UTC)
      </text>
    </g>
  );
}

function monthOf(days: ChartDay[]): string {
  return days[0]?.day.slice(0, 7) ?? '';
}

function YAxis({ max, side, label }: { max: number; side: 'left' | 'right'; label: string }) {
  const y = (v: number) => M.top + PLOT_H - (v / max) * PLOT_H;
  const x0 = side === 'left' ? M.left : M.left + PLOT_W;
  const dir = side === 'left' ? -1 : 1;
  return (
    <g className={`axis y-axis ${side}`}>
      <line x1={x0} x2={x0} y1={M.top} y2={M.top + PLOT_H} />
      {ticks(max).map((v) => (
        <g key={v}>
          {side === 'left' && <line className="grid" x1={M.left} x2={M.left + PLOT_W} y1={y(v)} y2={y(v)} />}
          <line x1={x0} x2={x0 + 4 * dir} y1={y(v)} y2={y(v)} />
          <text x={x0 + 7 * dir} y={y(v) + 4} textAnchor={side === 'left' ? 'end' : 'start'}>
            {compact(v)}
          </text>
        </g>
      ))}
      <text
        className="axis-label"
        transform={`translate(${side === 'left' ? 14 : W - 8}, ${M.top + PLOT_H / 2}) rotate(${side === 'left' ? -90 : 90})`}
        textAnchor="middle"
      >
        {label}
      </text>
    </g>
  );
}

function StackedBars({ days, series, max, name }: { days: ChartDay[]; series: Series[]; max: number; name: string }) {
  const { x, bar } = xScale(days.length);
  const h = (v: number) => (v / max) * PLOT_H;
  return (
    <g className={`bars ${name}`}>
      {days.map((d, i) => {
        let base = M.top + PLOT_H;
        const total = series.reduce((s, se) => s + se.value(d), 0);
        if (total === 0) return null;
        return (
          <g key={d.day} data-day={d.day}>
            <title>{`${d.day}: ${series.map((se) => `${se.label} ${fmt(se.value(d))}`).join(', ')}`}</title>
            {series.map((se) => {
              const height = h(se.value(d));
              base -= height;
              return height > 0 ? <rect key={se.key} className={`bar-${se.key}`} x={x(i) - bar / 2} y={base} width={bar} height={height} /> : null;
            })}
          </g>
        );
      })}
    </g>
  );
}

function LimitLine({ value, max, label, testId, side }: { value: number; max: number; label: string; testId: string; side: 'left' | 'right' }) {
  const y = M.top + PLOT_H - (value / max) * PLOT_H;
  return (
    <g className="limit" data-testid={testId} data-value={value}>
      <line x1={M.left} x2={M.left + PLOT_W} y1={y} y2={y} />
      <text x={side === 'left' ? M.left + 6 : M.left + PLOT_W - 6} y={y - 6} textAnchor={side === 'left' ? 'start' : 'end'}>
        {label}
      </text>
    </g>
  );
}

function Legend({ items }: { items: { key: string; label: string; line?: boolean }[] }) {
  return (
    <ul className="legend chart-legend">
      {items.map((it) => (
        <li key={it.key} className={`legend-item legend-${it.key}`}>
          <span className={it.line ? 'swatch-line' : 'swatch'} aria-hidden="true" />
          {it.label}
        </li>
      ))}
    </ul>
  );
}

function QuestionsPanel({ usage, days }: { usage: TenantUsage; days: ChartDay[] }) {
  const limit = usage.limits.questionsPerTenantPerDay;
  const peak = Math.max(...days.map((d) => d.answered + d.unanswered + d.refused));
  // The limit counts admitted questions (refused ones are not admitted).
  const busiest = Math.max(...days.map((d) => d.answered + d.unanswered));
  const max = niceMax(Math.max(peak, limit) * 1.08);
  return (
    <figure className="chart" data-testid="questions-chart">
      <figcaption>
        Questions per day{' '}
        <span className="hint" data-testid="busiest-day">
          (busiest day: {fmt(busiest)} admitted, {((busiest / limit) * 100).toFixed(1)}% of the daily limit)
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="questions-chart-title questions-chart-desc">
        <title id="questions-chart-title">Questions per day, {usage.tenantId}, {usage.month}</title>
        <desc id="questions-chart-desc">
          {`${fmt(usage.questions)} admitted, ${fmt(usage.answered)} answered, ${fmt(usage.refusedTotal)} refused this month; the ${usage.plan} plan admits ${fmt(limit)} questions a day.`}
        </desc>
        <YAxis max={max} side="left" label="questions" />
        <XAxis days={days} />
        <StackedBars days={days} series={QUESTION_SERIES} max={max} name="questions" />
        <LimitLine value={limit} max={max} side="right" testId="day-limit" label={`${usage.plan} plan: ${fmt(limit)} questions a day`} />
      </svg>
      <Legend items={[...QUESTION_SERIES.map((s) => ({ key: s.key, label: s.label })), { key: 'limit', label: 'daily question limit', line: true }]} />
    </figure>
  );
}

function TokensPanel({ usage, days }: { usage: TenantUsage; days: ChartDay[] }) {
  const budget = usage.limits.tokensPerTenantPerMonth;
  const dayMax = niceMax(Math.max(...days.map((d) => d.tokens)) * 1.08);
  const cumMax = niceMax(Math.max(days.at(-1)?.cumulativeTokens ?? 0, budget) * 1.08);
  const { x } = xScale(days.length);
  const y = (v: number) => M.top + PLOT_H - (v / cumMax) * PLOT_H;
  // The running total up to the last day with usage (later days have none yet).
  const lastUsed = days.reduce((last, d, i) => (d.tokens > 0 ? i : last), -1);
  const points = days.slice(0, lastUsed + 1).map((d, i) => `${x(i).toFixed(1)},${y(d.cumulativeTokens).toFixed(1)}`);
  return (
    <figure className="chart" data-testid="tokens-chart">
      <figcaption>Tokens per day, and the month&apos;s running total against the budget</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="tokens-chart-title tokens-chart-desc">
        <title id="tokens-chart-title">Model tokens, {usage.tenantId}, {usage.month}</title>
        <desc id="tokens-chart-desc">
          {`${fmt(usage.tokens)} tokens this month (${usage.tokensOfBudgetPercent.toFixed(2)}% of the ${usage.plan} plan's ${fmt(budget)}).`}
        </desc>
        <YAxis max={dayMax} side="left" label="tokens per day (bars)" />
        <YAxis max={cumMax} side="right" label="tokens this month (line)" />
        <XAxis days={days} />
        <StackedBars days={days} series={TOKEN_SERIES} max={dayMax} name="tokens" />
        <LimitLine value={budget} max={cumMax} side="right" testId="token-budget" label={`${usage.plan} plan: ${compact(budget)} tokens a month`} />
        {points.length > 0 && <polyline className="cumulative" data-testid="cumulative-tokens" data-value={days[lastUsed]!.cumulativeTokens} points={points.join(' ')} />}
        {points.length > 0 && <circle className="cumulative-end" cx={x(lastUsed)} cy={y(days[lastUsed]!.cumulativeTokens)} r={3.5} />}
      </svg>
      <Legend
        items={[
          ...TOKEN_SERIES.map((s) => ({ key: s.key, label: `${s.label} per day (left axis)` })),
          { key: 'cumulative', label: 'tokens this month, running total (right axis)', line: true },
          { key: 'budget', label: 'monthly token budget (right axis)', line: true },
        ]}
      />
    </figure>
  );
}
