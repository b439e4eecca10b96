/**
 * The web UI: the store's customers sign in and chat with the assistant; operators (local stack
 * only) look at executions and tenants with the local operator keys. The tenant shown in the header comes from
 * the ID token; the server never takes it from the client.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AssistantApi } from '../../api.ts';
import { refreshTokens, signIn, type Tokens, type UserPoolConfig } from '../../auth.ts';
import { Chat } from './Chat.tsx';
import { loadConfig, resolveEndpoints, type WebConfig } from './config.ts';
import type { OperatorApi } from './operator.ts';
import type { TenantsApi } from './tenants-api.ts';
import type { UsageApi } from './usage-api.ts';
import { signInMessage } from './messages.ts';
import { hrefOf, useRoute } from './route.ts';
import { TokenKeeper, type Claims } from './session.ts';
import { SignIn } from './SignIn.tsx';

// Operators only: the Step Functions and DynamoDB clients load when the view is opened.
const Executions = lazy(() => import('./Executions.tsx').then((m) => ({ default: m.Executions })));
// Operators only: the DynamoDB and Cognito clients and the tenants logic load when the view is opened.
const Tenants = lazy(() => import('./Tenants.tsx').then((m) => ({ default: m.Tenants })));
// Operators only: the usage report and its chart load when the view is opened.
const Usage = lazy(() => import('./Usage.tsx').then((m) => ({ default: m.Usage })));

interface SignedIn {
  keeper: TokenKeeper;
  claims: Claims;
}

export function App() {
  const [config, setConfig] = useState<WebConfig>();
  const [configError, setConfigError] = useState<string>();
  const [session, setSession] = useState<SignedIn>();
  const [notice, setNotice] = useState<string>();
  const [operatorApi, setOperatorApi] = useState<OperatorApi>();
  const [tenantsApi, setTenantsApi] = useState<TenantsApi>();
  const [usageApi, setUsageApi] = useState<UsageApi>();
  const route = useRoute();
  const sessionRef = useRef<SignedIn | undefined>(undefined);

  useEffect(() => {
    loadConfig(window.location.href).then(setConfig, (err: unknown) => setConfigError((err as Error).message));
  }, []);

  const pool = useMemo<UserPoolConfig | undefined>(
    () =>
      config && {
        region: config.region,
        clientId: config.userPool.clientId,
        ...(config.userPool.endpoint ? { endpoint: config.userPool.endpoint } : {}),
      },
    [config],
  );

  const endSession = useCallback((message?: string) => {
    sessionRef.current?.keeper.stop();
    sessionRef.current = undefined;
    setSession(undefined);
    setNotice(message);
  }, []);

  const onSignedIn = useCallback(
    (tokens: Tokens) => {
      if (!pool) return;
      const keeper = new TokenKeeper(tokens, {
        refresh: (refreshToken) => refreshTokens(pool, refreshToken),
        now: () => Date.now(),
        setTimer: (fn, ms) => window.setTimeout(fn, ms),
        clearTimer: (handle) => window.clearTimeout(handle as number),
        onEnded: (reason) => endSession(signInMessage(reason)),
      });
      const signedIn = { keeper, claims: keeper.claims };
      sessionRef.current = signedIn;
      setNotice(undefined);
      setSession(signedIn);
    },
    [pool, endSession],
  );

  useEffect(() => () => sessionRef.current?.keeper.stop(), []);

  const api = useMemo(() => {
    if (!config || !session) return undefined;
    const endpoints = resolveEndpoints(config, window.location.href);
    return new AssistantApi({ ...endpoints, idToken: () => session.keeper.idToken, answerTimeoutMs: 90_000 });
  }, [config, session]);

  const executionsView = route.view === 'executions' || route.view === 'execution';
  const tenantsView = route.view === 'tenants';
  const usageView = route.view === 'usage';
  const operatorView = executionsView || tenantsView || usageView;

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <h1 className="app-title">Store assistant</h1>
        {session && (
          <p className="who" aria-label="Signed in">
            <span className="tenant" data-testid="tenant">
              Store: <strong>{session.claims.tenantId}</strong>
            </span>
            <span className="username">{session.claims.username}</span>
          </p>
        )}
        <nav aria-label="Views" className="views">
          <a href={hrefOf({ view: 'chat' })} aria-current={operatorView ? undefined : 'page'}>
            Chat
          </a>
          {config?.operator && (
            <a href={hrefOf({ view: 'executions' })} aria-current={executionsView ? 'page' : undefined}>
              Executions
            </a>
          )}
          {config?.operator && (
            <a href={hrefOf({ view: 'tenants' })} aria-current={tenantsView ? 'page' : undefined}>
              Tenants
            </a>
          )}
          {config?.operator && (
            <a href={hrefOf({ view: 'usage' })} aria-current={usageView ? 'page' : undefined}>
              Usage
            </a>
          )}
          {session && (
            <button type="button" className="secondary" onClick={() => endSession('You are signed out.')}>
              Sign out
            </button>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {configError && (
          <p role="alert" className="error">
            The assistant is not configured: {configError}
          </p>
        )}
        {!config && !configError && <p aria-live="polite">Loading…</p>}
        {config && executionsView && (
          config.operator ? (
            <Suspense fallback={<p aria-live="polite">Loading…</p>}>
              <Executions config={config.operator} route={route} api={operatorApi} onApi={setOperatorApi} />
            </Suspense>
          ) : (
            <p>The executions view is part of the local stack. On AWS, use the Step Functions console.</p>
          )
        )}
        {config && tenantsView && (
          config.operator ? (
            <Suspense fallback={<p aria-live="polite">Loading…</p>}>
              <Tenants config={config.operator} api={tenantsApi} onApi={setTenantsApi} />
            </Suspense>
          ) : (
            <p>The tenants view is part of the local stack. On AWS, use npm run tenants -- --target aws.</p>
          )
        )}
        {config && usageView && (
          config.operator ? (
            <Suspense fallback={<p aria-live="polite">Loading…</p>}>
              <Usage config={config.operator} api={usageApi} onApi={setUsageApi} />
            </Suspense>
          ) : (
            <p>The usage view is part of the local stack. On AWS, use npm run usage -- --target aws.</p>
          )
        )}
        {config && !operatorView && pool && !session && <SignIn pool={pool} signIn={signIn} onSignedIn={onSignedIn} notice={notice} />}
        {config && !operatorView && session && api && <Chat key={session.claims.sub} api={api} keeper={session.keeper} />}
      </main>
    </div>
  );
}
