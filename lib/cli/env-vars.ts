/**
 * Every environment variable daggr reads, as `daggr --help` lists them. The README's
 * table says the same at more length; test/cli.test.ts checks that both name every
 * variable the code reads.
 */
export const ENV_VARS: ReadonlyArray<readonly [name: string, meaning: string]> = [
  ["HF_TOKEN", "Hugging Face token (else the file at HF_TOKEN_PATH, else $HF_HOME/token)"],
  ["HF_TOKEN_PATH", "file holding the Hugging Face token"],
  ["HF_HOME", "Hugging Face home (default ~/.cache/huggingface)"],
  ["XDG_CACHE_HOME", "without HF_HOME, share links look for Gradio's frpc under it (~/.cache)"],
  ["HF_ENDPOINT", "the Hub's URL (mirrors, tests; default https://huggingface.co)"],
  ["DAGGR_HOME", "databases and files (default $HF_HOME/daggr)"],
  ["GRADIO_SERVER_NAME", "default --host"],
  ["GRADIO_SERVER_PORT", "default --port"],
  ["DAGGR_TOKEN", "the access token to require (generated per launch beyond loopback)"],
  ["DAGGR_ALLOWED_HOSTS", "extra Host names to accept, comma-separated"],
  ["DAGGR_ALLOW_NETWORKS", "CIDR ranges remote apps' URLs may reach besides public addresses"],
  ["DAGGR_REMOTE_CONCURRENCY", "jobs each remote app runs at once by default (4)"],
  ["DAGGR_QUEUE", "a Redis URL: queue mode, node calls run on daggr worker processes (--queue)"],
  ["DAGGR_QUEUE_FILES", "where files cross between workers in queue mode (default $DAGGR_HOME/queue-files)"],
  ["DAGGR_QUEUE_FILES_MAX_AGE_MS", "queue mode: files nobody touched this long (a crashed process's) are swept (86400000, 24 h)"],
  ["DAGGR_LOG_LEVEL", "fatal, error, warn, info (default), debug, trace or silent"],
  ["DAGGR_LOG_FORMAT", "pretty or json (default: pretty in a terminal, else JSON lines)"],
  ["NO_COLOR", "set: no colours in the pretty log"],
  ["DAGGR_DEBUG", "1: log at debug level (dev-server restarts with timings)"],
  ["DAGGR_LOCAL_TIMEOUT", "seconds a runLocally app may take to become ready (120)"],
  ["DAGGR_LOCAL_NO_FALLBACK", "1: a runLocally node fails instead of using the remote Space"],
  ["DAGGR_UPDATE_SPACES", "1: fetch the current head of runLocally Spaces"],
  ["DAGGR_LOCAL_PYTHON", "run runLocally Spaces with this interpreter, installing nothing"],
  ["DAGGR_LOCAL_BASE_PYTHON", "the Python that makes runLocally environments (python3)"],
  ["DAGGR_LOCAL_NO_UV", "1: make runLocally environments with venv and pip, not uv"],
  ["DAGGR_LOCAL_QUIET", "1: no progress lines from runLocally Spaces"],
  ["DAGGR_DEPENDENCY_CHECK", "warn (default), update, skip or error: a Space or model changed since its results"],
  ["GRADIO_SHARE_SERVER_ADDRESS", "host:port of your own share server (share links)"],
  ["DAGGR_FRPC", "the frpc binary for share links (else Gradio's, downloaded and checked)"],
  ["SPACE_ID", "set on a Hugging Face Space: serve as a Space (sign-in, per-user sheets)"],
  ["SPACE_HOST", "set on a Space: its public host name"],
  ["OAUTH_CLIENT_ID", "set on a Space with hf_oauth: Hugging Face sign-in"],
  ["OAUTH_CLIENT_SECRET", "set on a Space with hf_oauth"],
  ["OAUTH_SCOPES", "set on a Space with hf_oauth"],
  ["OPENID_PROVIDER_URL", "set on a Space with hf_oauth"],
  ["DAGGR_SPACE_DATA", "on a Space, the persistent storage to keep state in (default /data)"],
];

/**
 * Read by the code but not settings: `PATH` (finding programs), and what `daggr dev`
 * sets for the processes it runs an app in (`DAGGR_CLI_CHILD`, `DAGGR_CLI_LAUNCH`).
 */
export const INTERNAL_ENV_VARS: readonly string[] = ["PATH", "DAGGR_CLI_CHILD", "DAGGR_CLI_LAUNCH", "DAGGR_BUILD_CHECKED"];

/** The `Environment:` section of `daggr --help`. */
export function envHelp(): string {
  const width = Math.max(...ENV_VARS.map(([n]) => n.length)) + 2;
  return ENV_VARS.map(([n, m]) => `  ${n.padEnd(width)}${m}`).join("\n");
}
