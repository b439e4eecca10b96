/** Hash routes, so the built UI is a folder of static files any server (or bucket) can serve. */
import { useEffect, useState } from 'react';

export type Route = { view: 'chat' } | { view: 'executions' } | { view: 'execution'; executionArn: string } | { view: 'tenants' } | { view: 'usage' };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  if (path === '/executions' || path === '/executions/') return { view: 'executions' };
  if (path === '/tenants' || path === '/tenants/') return { view: 'tenants' };
  if (path === '/usage' || path === '/usage/') return { view: 'usage' };
  const m = /^\/executions\/(.+)$/.exec(path);
  if (m) {
    try {
      return { view: 'execution', executionArn: decodeURIComponent(m[1]!) };
    } catch {
      return { view: 'executions' };
    }
  }
  return { view: 'chat' };
}

export function hrefOf(route: Route): string {
  switch (route.view) {
    case 'chat':
      return '#/';
    case 'executions':
      return '#/executions';
    case 'execution':
      return `#/executions/${encodeURIComponent(route.executionArn)}`;
    case 'tenants':
      return '#/tenants';
    case 'usage':
      return '#/usage';
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function navigate(route: Route): void {
  window.location.hash = hrefOf(route);
}
