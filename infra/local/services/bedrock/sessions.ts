/**
 * The local agent's sessions, kept as a Bedrock agent keeps them: a session is forgotten once it has
 * been idle for the agent's idleSessionTTLInSeconds (AGENT_IDLE_SESSION_TTL_SECONDS, the value CDK
 * deploys). Expired sessions are swept as new ones are touched, so the registry holds the sessions
 * used within the last TTL (and at most `maxSessions`, least recently used dropped first).
 */

interface Held<S> {
  session: S;
  lastUsedMs: number;
}

export class AgentSessions<S> {
  /** Least recently used first: a touched session moves to the end. */
  private readonly held = new Map<string, Held<S>>();

  constructor(
    private readonly idleTtlMs: number,
    private readonly maxSessions: number,
    private readonly clock: () => Date,
  ) {}

  private expired(h: Held<S>, now: number): boolean {
    return now - h.lastUsedMs >= this.idleTtlMs;
  }

  /** The session, unless there is none or it has been idle for the TTL (then it is forgotten). */
  get(sessionId: string): S | undefined {
    const h = this.held.get(sessionId);
    if (!h) return undefined;
    if (!this.expired(h, this.clock().getTime())) return h.session;
    this.held.delete(sessionId);
    return undefined;
  }

  /** The session (a new one from `create` if there is none live), marked used now; sweeps expired sessions. */
  touch(sessionId: string, create: () => S): S {
    const now = this.clock().getTime();
    const session = this.get(sessionId) ?? create();
    this.held.delete(sessionId);
    this.held.set(sessionId, { session, lastUsedMs: now });
    // The least recently used come first: sweep from the front until a live one (a clock that went
    // back can leave an expired one behind it; `get` forgets that one when it is asked for).
    for (const [id, h] of this.held) {
      if (!this.expired(h, now)) break;
      this.held.delete(id);
    }
    if (this.held.size > this.maxSessions) this.held.delete(this.held.keys().next().value as string);
    return session;
  }

  delete(sessionId: string): void {
    this.held.delete(sessionId);
  }

  clear(): void {
    this.held.clear();
  }

  /** How many sessions are held (live ones, and expired ones not swept yet). */
  get size(): number {
    return this.held.size;
  }
}
