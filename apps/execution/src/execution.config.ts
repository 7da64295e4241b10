import { hostname } from 'node:os';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ServiceConfig } from '#common/config.js';

export class ExecutionConfig extends ServiceConfig {
  GRPC_LISTEN = '0.0.0.0:50053';
  HTTP_PORT = 8083;

  /** Root of the projects' data directories. */
  @IsString({ message: 'DATA_DIR must be a folder path' })
  DATA_DIR = '.data';

  @IsIn(['local', 'kubernetes'], { message: 'EXECUTION_RUNTIME must be "local" or "kubernetes"' })
  EXECUTION_RUNTIME = 'local';

  // Kubernetes runtime (EXECUTION_RUNTIME=kubernetes). The cluster comes from the client's
  // loadFromDefault: KUBECONFIG (and KUBE_CONTEXT to pick a context), else the in-cluster service account.
  /** Context of the kubeconfig to use; empty = its current context. */
  @IsOptional() @IsString()
  KUBE_CONTEXT?: string;

  /** Namespace the script pods run in. */
  @Matches(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'SCRIPT_NAMESPACE must be a Kubernetes namespace name' })
  SCRIPT_NAMESPACE = 'scriptorium-scripts';

  /** Image of a script pod when the script's environment names none. */
  @IsString()
  SCRIPT_IMAGE = 'python:3.12-slim';

  /** PersistentVolumeClaim holding DATA_DIR in the script namespace; mounted with the run's project folder as subPath. Empty = no project data in pods. */
  @IsOptional() @Matches(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: 'DATA_PVC must be a PersistentVolumeClaim name' })
  DATA_PVC?: string;

  /** Resources of a script pod's container (Kubernetes quantities). */
  @IsString() SCRIPT_CPU_REQUEST = '100m';
  @IsString() SCRIPT_CPU_LIMIT = '1';
  @IsString() SCRIPT_MEMORY_REQUEST = '128Mi';
  @IsString() SCRIPT_MEMORY_LIMIT = '512Mi';
  @IsString() SCRIPT_EPHEMERAL_STORAGE_LIMIT = '1Gi';

  /** Finished script pods are deleted this long after they end (0 = as soon as their log is read). */
  @Type(() => Number)
  @IsInt({ message: 'FINISHED_POD_RETENTION_SECONDS must be an integer number of seconds' })
  @Min(0)
  FINISHED_POD_RETENTION_SECONDS = 300;

  /** The pod watch is re-opened from its last resourceVersion this often, so it never goes stale. */
  @Type(() => Number)
  @IsInt({ message: 'POD_WATCH_RESTART_SECONDS must be an integer number of seconds' })
  @Min(10)
  POD_WATCH_RESTART_SECONDS = 300;

  /** Runs this replica executes at once; more wait queued. */
  @Type(() => Number)
  @IsInt({ message: 'MAX_CONCURRENT_RUNS must be an integer' })
  @Min(1)
  @Max(1000)
  MAX_CONCURRENT_RUNS = 16;

  @Type(() => Number)
  @IsInt({ message: 'DEFAULT_TIMEOUT_SECONDS must be an integer number of seconds' })
  @Min(1)
  DEFAULT_TIMEOUT_SECONDS = 3600;

  /** Time a cancelled run gets between SIGTERM and SIGKILL. */
  @Type(() => Number)
  @IsInt({ message: 'CANCEL_GRACE_SECONDS must be an integer number of seconds' })
  @Min(0)
  CANCEL_GRACE_SECONDS = 5;

  /**
   * At shutdown, time the active runs get to finish; those still running are then stopped
   * (as a cancel, with CANCEL_GRACE_SECONDS between SIGTERM and SIGKILL) and end `cancelled`.
   */
  @Type(() => Number)
  @IsInt({ message: 'SHUTDOWN_GRACE_SECONDS must be an integer number of seconds' })
  @Min(0, { message: 'SHUTDOWN_GRACE_SECONDS must be 0 or more' })
  @Max(3600, { message: 'SHUTDOWN_GRACE_SECONDS must be at most 3600 (one hour)' })
  SHUTDOWN_GRACE_SECONDS = 10;

  /** Runs one user may have starting or running at once; more wait queued (0 = no limit). */
  @Type(() => Number)
  @IsInt({ message: 'MAX_RUNS_PER_USER must be an integer (0 = no limit)' })
  @Min(0)
  MAX_RUNS_PER_USER = 4;

  /** Runs of one script starting or running at once (0 = no limit). */
  @Type(() => Number)
  @IsInt({ message: 'MAX_RUNS_PER_SCRIPT must be an integer (0 = no limit)' })
  @Min(0)
  MAX_RUNS_PER_SCRIPT = 0;

  /** Submissions one user may make per minute; more get 429 with Retry-After (0 = no limit). */
  @Type(() => Number)
  @IsInt({ message: 'RUN_SUBMISSIONS_PER_MINUTE must be an integer (0 = no limit)' })
  @Min(0)
  RUN_SUBMISSIONS_PER_MINUTE = 10;

  /** Queued runs at most; a submission beyond gets 429 with Retry-After. */
  @Type(() => Number)
  @IsInt({ message: 'MAX_QUEUED_RUNS must be an integer' })
  @Min(1)
  MAX_QUEUED_RUNS = 1000;

  /**
   * Local runtime isolation: `auto` uses bubblewrap when installed (own mount, pid,
   * ipc and uts namespaces, read-only system, no capabilities, uid 65534), `off` runs
   * the process directly. `bubblewrap` insists on it.
   */
  @IsIn(['auto', 'bubblewrap', 'off'], { message: 'LOCAL_SANDBOX must be auto, bubblewrap or off' })
  LOCAL_SANDBOX = 'auto';

  /** Network of sandboxed local runs: `host` shares it (interactive scripts need it), `none` cuts it. */
  @IsIn(['host', 'none'], { message: 'LOCAL_SANDBOX_NETWORK must be host or none' })
  LOCAL_SANDBOX_NETWORK = 'host';

  /**
   * Local runtime with bubblewrap: sandboxes of each kind (project folder, script folder,
   * network) the process launcher sets up ahead of the next run of that kind, so a run
   * does not wait for the sandbox's setup (about 10 ms, and as much again to spawn it).
   * 0 = set each one up when its run starts.
   */
  @Type(() => Number) @IsInt({ message: 'LOCAL_WARM_SANDBOXES must be an integer (0 = none)' }) @Min(0) @Max(16)
  LOCAL_WARM_SANDBOXES = 2;

  /** Per-run limits of the local runtime (0 = none): data memory, CPU time, size of a file written, output. */
  @Type(() => Number) @IsInt({ message: 'RUN_MEMORY_LIMIT_MB must be an integer (0 = no limit)' }) @Min(0)
  RUN_MEMORY_LIMIT_MB = 2048;

  @Type(() => Number) @IsInt({ message: 'RUN_CPU_LIMIT_SECONDS must be an integer (0 = no limit)' }) @Min(0)
  RUN_CPU_LIMIT_SECONDS = 3600;

  @Type(() => Number) @IsInt({ message: 'RUN_FILE_SIZE_LIMIT_MB must be an integer (0 = no limit)' }) @Min(0)
  RUN_FILE_SIZE_LIMIT_MB = 1024;

  @Type(() => Number) @IsInt({ message: 'RUN_OUTPUT_LIMIT_MB must be an integer (0 = no limit)' }) @Min(0)
  RUN_OUTPUT_LIMIT_MB = 100;

  /**
   * Local runtime: folder where the process launcher keeps each active run's raw output
   * (at most the run's output; deleted at the run's end), so a killed service's successor
   * can store the lines it never got. Default: DATA_DIR/output-spool/<INSTANCE_ID>.
   */
  @IsOptional()
  @IsString({ message: 'OUTPUT_SPOOL_DIR must be a folder path' })
  @IsNotEmpty({ message: 'OUTPUT_SPOOL_DIR must be a folder path (leave it unset for the default)' })
  OUTPUT_SPOOL_DIR?: string;

  /** Identifies this replica as the owner of the runs it starts; stable across its restarts. */
  @IsString()
  INSTANCE_ID = hostname();
}
