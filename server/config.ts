/**
 * Configuration from the environment, parsed once at start-up (never at import time) and
 * passed down. Every limit names its unit. See docs/configuration.md.
 */
import { z } from 'zod';

const int = (def: number) => z.coerce.number().int().positive().default(def);

export const ConfigSchema = z.object({
	port: z.coerce.number().int().min(0).max(65535).default(3000),
	host: z.string().default('0.0.0.0'),
	/** SQLite file of the embedded store. */
	databasePath: z.string().default('data/parley.db'),
	/**
	 * SQLite `synchronous` in WAL mode. `full` (default): a commit is fsynced, so "sent" survives
	 * power loss. `normal`: survives a crash of the process (kill -9) but not of the machine;
	 * faster. See docs/performance.md.
	 */
	sqliteSynchronous: z.enum(['full', 'normal']).default('full'),
	/**
	 * PostgreSQL instead of the embedded store (`postgres://user@host:5432/db`). Needed to run
	 * more than one instance. A `?options=-c search_path=name` suffix selects a schema.
	 */
	databaseUrl: z.string().url().optional(),
	/** Connections per pool (one for queries, one for locks) per instance. */
	databasePoolSize: z.coerce.number().int().min(2).max(200).default(10),
	/** Redis for fan-out between instances (`redis://host:6379`). Requires `databaseUrl`. */
	redisUrl: z.string().url().optional(),
	/** Prefix of every Redis channel, so several deployments can share one Redis. */
	redisPrefix: z.string().min(1).default('parley'),
	/** Key for Parley's own widget session tokens. If unset, one is generated once and kept in the store. */
	sessionSecret: z.string().min(32).optional(),
	/** Load the demo workstreams and agents on start when the store has no agents yet. */
	seedDemo: z.boolean().default(true),
	/** Shared secret of the demo persistent workstream (the demo host page signs with it). */
	demoWidgetSecret: z.string().min(16).default('demo-widget-secret-change-me'),
	/**
	 * Port of the demo host site (another origin embedding the widget; only with `seedDemo`).
	 * Unset: the app's port + 1 (one instance with the embedded store only). 0: not started.
	 */
	demoHostPort: z.coerce.number().int().min(0).max(65535).optional(),
	/** How long an agent has to accept an offer before it goes to the next agent (RONA). */
	offerTimeoutMs: z.coerce.number().int().min(5_000).default(60_000),
	/** An agent whose every workspace tab closed (or lost the network) goes Offline after this. */
	presenceGraceMs: z.coerce.number().int().min(1_000).default(60_000),
	/** How often each instance looks for due durable timers (real time). */
	timerPollMs: z.coerce.number().int().min(10).default(250),
	/**
	 * SMTP server for email (SPEC P4), as a nodemailer URL: `smtp://user:pass@host:587` or
	 * `smtps://…:465`. Unset: mail goes to the local outbox only (/admin/outbox).
	 */
	smtpUrl: z.string().url().optional(),
	/** The From address of every email. */
	mailFrom: z.string().min(3).default('Parley <no-reply@parley.localhost>'),
	/** The address customers reach the app at, for links in emails (CSAT). Default: http://localhost:PORT. */
	publicUrl: z.string().url().optional(),
	/**
	 * Bearer token for `GET /metrics` (Prometheus). Unset: metrics are served only to requests
	 * made directly from this machine (loopback, no proxy headers).
	 */
	metricsToken: z.string().min(16).optional(),
	/**
	 * Where webhooks may post. `public` (default): public addresses only, never loopback,
	 * private-network or link-local ones (see server/webhook-target.ts). `any`: also those, for
	 * receivers inside the deployment's own network.
	 */
	webhookTargets: z.enum(['public', 'any']).default('public'),
	logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
	limits: z.object({
		/** Largest websocket frame accepted; bigger frames close the socket with 4413. */
		maxMessageBytes: int(256 * 1024),
		/** Largest outbox document, in bytes of its encoded state (merged entries are pruned by clients). */
		maxOutboxBytes: int(2 * 1024 * 1024),
		/** Sustained websocket messages per second per connection (token bucket refill). */
		messagesPerSecond: int(50),
		/** Burst allowance of the same bucket. */
		messageBurst: int(200),
		/** How long an unused document stays in memory. */
		docIdleMs: int(30_000),
		/** Updates appended before a document is compacted into a snapshot. */
		compactAfterUpdates: int(500),
		/** Agent session cookie lifetime. */
		agentSessionMs: int(7 * 24 * 3600_000),
		/** Customer widget session lifetime. */
		customerSessionMs: int(90 * 24 * 3600_000),
		/** New anonymous widget customers per client address per minute. */
		anonymousSessionsPerMinute: int(60),
		/** Bytes a socket may send before its authentication finishes. */
		maxEarlyBytes: int(1024 * 1024),
		/**
		 * A socket silent this long gets an empty message: y-websocket clients drop a socket that
		 * received nothing for 30 s.
		 */
		keepAliveMs: int(20_000),
		/**
		 * Dead peers: a socket that sent nothing for this long is pinged, and terminated if it
		 * has neither answered nor sent anything by the next check (real time).
		 */
		pingMs: int(30_000),
		/**
		 * Several instances: how often each compares the documents it holds with the stored heads
		 * and catches up any that fell behind (a fan-out message lost without a broken link).
		 */
		headsCheckMs: int(2_000),
		/**
		 * Several instances: how often an instance holding an outbox that another instance owns
		 * (merges) tries to claim it, in case the owner let it go (real time).
		 */
		claimRetryMs: int(2_000),
		/** How often each instance routes waiting requests that nothing else has routed (real time). */
		queueSweepMs: int(5_000),
		/** How often each instance refreshes its agents' connection rows (real time). */
		presenceHeartbeatMs: int(10_000),
		/** Waiting customers' queue positions are rewritten at most this often after a change. */
		waitingNoticeDebounceMs: int(300)
	})
});
export type Config = z.infer<typeof ConfigSchema>;

function checked(config: Config): Config {
	if (config.redisUrl && !config.databaseUrl)
		throw new ConfigError(
			'REDIS_URL is set but DATABASE_URL is not: several instances need a shared PostgreSQL store'
		);
	return config;
}

/** The environment variable of each setting (`limits` nested as in the schema). */
const ENV_NAMES = {
	port: 'PORT',
	host: 'HOST',
	databasePath: 'PARLEY_DB',
	sqliteSynchronous: 'PARLEY_SQLITE_SYNCHRONOUS',
	databaseUrl: 'DATABASE_URL',
	databasePoolSize: 'PARLEY_DB_POOL_SIZE',
	redisUrl: 'REDIS_URL',
	redisPrefix: 'PARLEY_REDIS_PREFIX',
	sessionSecret: 'PARLEY_SESSION_SECRET',
	seedDemo: 'PARLEY_SEED_DEMO',
	demoWidgetSecret: 'PARLEY_DEMO_WIDGET_SECRET',
	demoHostPort: 'PARLEY_DEMO_HOST_PORT',
	smtpUrl: 'SMTP_URL',
	mailFrom: 'MAIL_FROM',
	publicUrl: 'PARLEY_PUBLIC_URL',
	metricsToken: 'PARLEY_METRICS_TOKEN',
	webhookTargets: 'PARLEY_WEBHOOK_TARGETS',
	logLevel: 'LOG_LEVEL',
	offerTimeoutMs: 'PARLEY_OFFER_TIMEOUT_MS',
	timerPollMs: 'PARLEY_TIMER_POLL_MS',
	presenceGraceMs: 'PARLEY_PRESENCE_GRACE_MS',
	limits: {
		maxMessageBytes: 'PARLEY_MAX_MESSAGE_BYTES',
		messagesPerSecond: 'PARLEY_MESSAGES_PER_SECOND',
		messageBurst: 'PARLEY_MESSAGE_BURST',
		docIdleMs: 'PARLEY_DOC_IDLE_MS',
		headsCheckMs: 'PARLEY_HEADS_CHECK_MS',
		claimRetryMs: 'PARLEY_CLAIM_RETRY_MS'
	}
} as const;

/** A setting in the environment that is not valid; the message names the variable. */
export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	const get = (name: string) => (env[name] === '' ? undefined : env[name]);
	const { limits, ...top } = ENV_NAMES;
	const read = (names: Record<string, string>) =>
		Object.fromEntries(Object.entries(names).map(([key, name]) => [key, get(name)]));
	const input: Record<string, unknown> = { ...read(top), limits: read(limits) };
	const seed = get(ENV_NAMES.seedDemo);
	input.seedDemo = seed === undefined ? undefined : seed !== 'false';
	const parsed = ConfigSchema.safeParse(input);
	if (!parsed.success)
		throw new ConfigError(
			parsed.error.issues
				.map((issue) => {
					const [first, second] = issue.path;
					const name =
						first === 'limits'
							? limits[second as keyof typeof limits]
							: top[first as keyof typeof top];
					return `${name ?? issue.path.join('.')}: ${issue.message}`;
				})
				.join('; ')
		);
	return checked(parsed.data);
}

/** A config for tests and tools: defaults plus overrides. */
export function testConfig(
	overrides: Partial<Omit<Config, 'limits'>> & { limits?: Partial<Config['limits']> } = {}
): Config {
	const base = ConfigSchema.parse({ limits: {} });
	return checked({ ...base, ...overrides, limits: { ...base.limits, ...overrides.limits } });
}

/**
 * `loadConfig` for a program's start (the server, `npm start`'s preflight): an invalid setting
 * is printed as "Parley cannot start: <VARIABLE>: …" and the process exits with 1.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
	try {
		return loadConfig(env);
	} catch (err) {
		if (!(err instanceof ConfigError)) throw err;
		console.error(`Parley cannot start: ${err.message}`);
		process.exit(1);
	}
}

/** Why listening on `port` failed, in words an admin can act on (the server and the preflight). */
export function listenProblem(port: number, err: NodeJS.ErrnoException): string {
	return err.code === 'EADDRINUSE'
		? `port ${port} is already in use (is Parley already running?): stop that process, or set PORT to another port`
		: err.code === 'EACCES'
			? `not allowed to listen on port ${port}: choose a port above 1023 with PORT`
			: `could not listen on port ${port}: ${err.message}`;
}
