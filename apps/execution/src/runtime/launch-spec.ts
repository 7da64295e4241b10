/** Everything a runtime needs to start one run; stored with the run so any replica can start it. */
export interface LaunchSpec {
  executionId: string;
  /** Interpreter command and the script path (or source when the path is not on this machine). */
  interpreter: string;
  scriptPath: string;
  scriptSource: string;
  /** Standard arguments then parameters, as passed on the command line. */
  args: string[];
  /** Extra environment (secrets travel here, never in args). */
  env: Record<string, string>;
  workingDir: string;
  timeoutSeconds: number;
}
