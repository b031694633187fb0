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
	const registry = new Registry();
	// Node's event-loop lag sampled every 20 ms (prom-client's default is 10): a timer less per
	// 20 ms on a server whose /healthz already samples it.
	collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
	new Gauge({
		name: 'parley_websocket_connections',
		help: 'Open sync websockets on this instance.',
		registers: [registry],
		collect() {
			this.set(sources.connections());
		}
	});
	new Gauge({
		name: 'parley_documents_in_memory',
		help: 'Yjs documents this instance holds in memory (idle ones are evicted).',
		registers: [registry],
		collect() {
			this.set(sources.documents());
		}
	});
	const merged = new Counter({
		name: 'parley_messages_merged_total',
		help: 'Messages and notes copied from outboxes into conversations. path="immediate": merged in the turn the outbox update arrived; "deferred": it first had to read the database, claim the outbox or load a document.',
		labelNames: ['path'],
		registers: [registry]
	});
	// Both series exist from the start (at 0), so a rate over them is defined from the first scrape.
	for (const path of ['immediate', 'deferred'] satisfies MergePath[]) merged.inc({ path }, 0);
	const rejected = new Counter({
		name: 'parley_outbox_entries_rejected_total',
		help: 'Outbox entries the server refused (invalid, forged, too late, conversation ended).',
		registers: [registry]
	});
	const commitSeconds = new Histogram({
		name: 'parley_store_commit_seconds',
		help: 'Time of one commit of document updates to the store, durable at its end (embedded store: the group commit, fsync included; PostgreSQL: the batch insert).',
		buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
		registers: [registry]
	});
	const updates = new Counter({
		name: 'parley_store_updates_total',
		help: 'Document updates committed to the store.',
		registers: [registry]
	});
	return {
		registry,
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
