/**
 * Prometheus metrics of one instance (`GET /metrics`, see docs/http-api.md), with prom-client.
 * One registry per instance, so several instances in one process (tests) keep theirs apart.
 *
 * Besides Node's own (CPU, memory, event-loop lag, GC), what an operator of a chat service
 * looks at first: open sockets and documents, messages merged (and on which path), and how long
 * the store's commits take. A message is sent only once its commit is durable, so the commit
 * time is part of every message's latency; on some disks the fsync's tail is most of it
 * (docs/performance.md).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type MergePath = 'immediate' | 'deferred';

export interface Metrics {
	readonly registry: Registry;
	/** An outbox merge wrote `accepted` messages or notes and refused `rejected` entries. */
	merged(path: MergePath, accepted: number, rejected: number): void;
	/** A store commit of `updates` document updates took `seconds` (durable at the end). */
	committed(seconds: number, updates: number): void;
}

export function createMetrics(sources: {
	connections: () => number;
	documents: () => number;
}): Metrics {
	const own = new Registry();
	new Gauge({
		name: 'parley_websocket_connections',
		help: 'Open sync websockets on this instance.',
		registers: [own],
		collect() {
			this.set(sources.connections());
		}
	});
	new Gauge({
		name: 'parley_documents_in_memory',
		help: 'Yjs documents this instance holds in memory (idle ones are evicted).',
		registers: [own],
		collect() {
			this.set(sources.documents());
		}
	});
	const merged = new Counter({
		name: 'parley_messages_merged_total',
		help: 'Messages and notes copied from outboxes into conversations. path="immediate": merged in the turn the outbox update arrived; "deferred": it first had to read the database, claim the outbox or load a document.',
		labelNames: ['path'],
		registers: [own]
	});
	// Both series exist from the start (at 0), so a rate over them is defined from the first scrape.
	for (const path of ['immediate', 'deferred'] satisfies MergePath[]) merged.inc({ path }, 0);
	const rejected = new Counter({
		name: 'parley_outbox_entries_rejected_total',
		help: 'Outbox entries the server refused (invalid, forged, too late, conversation ended).',
		registers: [own]
	});
	const commitSeconds = new Histogram({
		name: 'parley_store_commit_seconds',
		help: 'Time of one commit of document updates to the store, durable at its end (embedded store: the group commit, fsync included; PostgreSQL: the batch insert, with any wait for a pooled connection).',
		buckets: [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 1],
		registers: [own]
	});
	const updates = new Counter({
		name: 'parley_store_updates_total',
		help: 'Document updates committed to the store.',
		registers: [own]
	});
	return {
		registry: Registry.merge([processRegistry(), own]),
		merged(path, accepted, refused) {
			if (accepted > 0) merged.inc({ path }, accepted);
			if (refused > 0) rejected.inc(refused);
		},
		committed(seconds, n) {
			commitSeconds.observe(seconds);
			updates.inc(n);
		}
	};
}

let processMetrics: Registry | null = null;

/**
 * Node's own metrics (CPU, memory, event-loop lag, GC), collected once per process: prom-client
 * cannot stop its collectors, so one set per instance would pile up where several instances share
 * a process (tests). The event-loop lag is sampled every 20 ms (prom-client's default is 10).
 */
function processRegistry(): Registry {
	if (!processMetrics) {
		processMetrics = new Registry();
		collectDefaultMetrics({ register: processMetrics, eventLoopMonitoringPrecision: 20 });
	}
	return processMetrics;
}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Who may read `/metrics`: null if this request may, else why not. With a token (set
 * `PARLEY_METRICS_TOKEN`): any request that carries it as a bearer token. Without one: only a
 * request made on this machine to this machine. It must come from a loopback address, carry no
 * forwarding header (a proxy in front may be public), and name a loopback host: a proxy or
 * balancer on this machine that adds no header still passes the public host name on, and so
 * does a browser tricked by DNS rebinding.
 */
export function metricsAccess(
	req: Pick<IncomingMessage, 'headers'> & { socket: { remoteAddress?: string } },
	token: string | undefined
): null | 'token' | 'remote' {
	if (token) {
		const given = /^bearer +(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
		// Hashes of equal length: the comparison takes the same time whatever was sent.
		return timingSafeEqual(sha256(given), sha256(token)) ? null : 'token';
	}
	const { headers } = req;
	const proxied =
		headers['x-forwarded-for'] !== undefined ||
		headers.forwarded !== undefined ||
		headers['x-real-ip'] !== undefined;
	const local =
		LOOPBACK_ADDRESSES.has(req.socket.remoteAddress ?? '') &&
		LOOPBACK_HOST.test(headers.host ?? '');
	return !proxied && local ? null : 'remote';
}
