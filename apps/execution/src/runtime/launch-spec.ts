/** Everything a runtime needs to start one run; stored with the run so any replica can start it. */
export interface LaunchSpec {
  executionId: string;
  /** Interpreter command and the script path (or source when the path is not on this machine). */
  interpreter: string;
  scriptPath: string;
  scriptSource: string;
  /** Container image to run it in (kubernetes runtime): the script group's environment; absent = the runtime's default. */
  image?: string;
  /** Standard arguments then parameters, as passed on the command line. */
  args: string[];
  /** Extra environment (secrets travel here, never in args). */
  env: Record<string, string>;
  workingDir: string;
  timeoutSeconds: number;
  /** Set for an interactive script: the session it serves (its `--port` is already in args). */
  session?: LaunchSession;
}

/** The interactive session a run serves. */
export interface LaunchSession {
  sessionId: string;
  /** The port the script listens on: a free loopback port (local) or the fixed session port (kubernetes). */
  port: number;
  /** Listen on every interface (in a pod, where the session's Service reaches it), not only loopback. */
  bindAllInterfaces: boolean;
}
