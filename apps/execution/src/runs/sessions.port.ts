import type { Caller } from '#common/auth.js';
import type { LaunchSession } from '../runtime/launch-spec.js';

/** What `open()` reserved for a run about to be stored. */
export interface OpenedSession {
  id: string;
  /** What the runtime needs: the port the script is told to listen on. */
  launch: LaunchSession;
}

/** What submitting an interactive run needs of its session (the sessions feature provides it). */
export abstract class SessionOpener {
  /** Reserves a session for a run about to be stored (429 past the limits); `discard()` it when the run cannot be stored. */
  abstract open(caller: Caller, run: { executionId: string; scriptId: string; scriptName: string }): Promise<OpenedSession>;
  abstract discard(sessionId: string): Promise<void>;
}

/** Where the proxy of an open session goes (the sessions feature provides it). */
export abstract class SessionRoutes {
  /** Points an open session's proxy at `upstream` (host:port) instead. */
  abstract moveTo(sessionId: string, upstream: string): Promise<void>;
}
