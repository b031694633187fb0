/**
 * Versioned schema migrations, run on start by Kysely's Migrator (which also serializes
 * concurrent starts of several instances on PostgreSQL with its lock table). Written with the
 * schema builder so one list serves SQLite and PostgreSQL; the few types that differ come from
 * `types(db)`. Add new ones; never change what a shipped one does on SQLite.
 */
import {
	Migrator,
	PostgresAdapter,
	sql,
	type Kysely,
	type Migration,
	type MigrationProvider
} from 'kysely';
import { DEFAULT_TRIGGERS } from '../../src/lib/domain/triggers';

/** Column types that differ between the two dialects. */
function types(db: Kysely<unknown>) {
	const pg = db.getExecutor().adapter instanceof PostgresAdapter;
	return {
		pg,
		blob: pg ? sql`bytea` : sql`blob`
	};
}

const migrations: Record<string, Migration> = {
	'0001_foundation': {
		async up(db: Kysely<unknown>) {
			const t = types(db);
			await db.schema
				.createTable('doc_updates')
				.addColumn('seq', t.pg ? 'bigserial' : 'integer', (c) =>
					t.pg ? c.primaryKey() : c.primaryKey().autoIncrement()
				)
				.addColumn('doc', 'text', (c) => c.notNull())
				.addColumn('data', t.blob, (c) => c.notNull())
				.execute();
			await db.schema
				.createIndex('doc_updates_doc')
				.on('doc_updates')
				.columns(['doc', 'seq'])
				.execute();
			await db.schema
				.createTable('doc_snapshots')
				.addColumn('doc', 'text', (c) => c.primaryKey())
				.addColumn('data', t.blob, (c) => c.notNull())
				.addColumn('upto_seq', 'integer', (c) => c.notNull())
				.execute();
			await db.schema
				.createTable('agents')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('email', 'text', (c) => c.notNull().unique())
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('password_hash', 'text', (c) => c.notNull())
				.addColumn('role', 'text', (c) => c.notNull())
				.addColumn('capacity', 'integer', (c) => c.notNull())
				.addColumn('presence', 'text', (c) => c.notNull())
				.addColumn('presence_since', 'bigint', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createTable('auth_sessions')
				.addColumn('id_hash', 'text', (c) => c.primaryKey())
				.addColumn('agent_id', 'text', (c) => c.notNull())
				.addColumn('expires_at', 'bigint', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createTable('workstreams')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('slug', 'text', (c) => c.notNull().unique())
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('mode', 'text', (c) => c.notNull())
				.addColumn('queue_name', 'text', (c) => c.notNull())
				.addColumn('auth_required', 'integer', (c) => c.notNull())
				.addColumn('secret', 'text', (c) => c.notNull())
				.addColumn('title', 'text', (c) => c.notNull())
				.addColumn('greeting', 'text', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createTable('customers')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('workstream_id', 'text', (c) => c.notNull())
				.addColumn('external_id', 'text')
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('email', 'text')
				.addColumn('authenticated', 'integer', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.addUniqueConstraint('customers_external', ['workstream_id', 'external_id'])
				.execute();
			await db.schema
				.createTable('conversations')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('workstream_id', 'text', (c) => c.notNull())
				.addColumn('customer_id', 'text', (c) => c.notNull())
				.addColumn('status', 'text', (c) => c.notNull())
				.addColumn('requested_at', 'bigint')
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.addColumn('updated_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createIndex('conversations_customer')
				.on('conversations')
				.columns(['customer_id', 'status'])
				.execute();
			await db.schema
				.createTable('participants')
				.addColumn('conversation_id', 'text', (c) => c.notNull())
				.addColumn('agent_id', 'text', (c) => c.notNull())
				.addColumn('joined_at', 'bigint', (c) => c.notNull())
				.addPrimaryKeyConstraint('participants_pk', ['conversation_id', 'agent_id'])
				.execute();
			await db.schema
				.createTable('offers')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('conversation_id', 'text', (c) => c.notNull())
				.addColumn('agent_id', 'text', (c) => c.notNull())
				.addColumn('status', 'text', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createIndex('offers_agent')
				.on('offers')
				.columns(['agent_id', 'status'])
				.execute();
		}
	},
	/**
	 * Per-document versions: each stored update gets the next version of its document (1, 2, …),
	 * assigned under a row lock on `doc_heads`, so versions commit in order and an instance can
	 * tell exactly which updates it missed (see docs/protocol.md, "Several instances").
	 */
	'0002_doc_versions': {
		async up(db: Kysely<unknown>) {
			const t = types(db);
			await db.schema
				.createTable('doc_log')
				.addColumn('doc', 'text', (c) => c.notNull())
				.addColumn('version', 'integer', (c) => c.notNull())
				.addColumn('data', t.blob, (c) => c.notNull())
				.addPrimaryKeyConstraint('doc_log_pk', ['doc', 'version'])
				.execute();
			await db.schema
				.createTable('doc_heads')
				.addColumn('doc', 'text', (c) => c.primaryKey())
				.addColumn('version', 'integer', (c) => c.notNull())
				.execute();
			await db.schema
				.createTable('doc_snaps')
				.addColumn('doc', 'text', (c) => c.primaryKey())
				.addColumn('data', t.blob, (c) => c.notNull())
				.addColumn('upto', 'integer', (c) => c.notNull())
				.execute();
			// Existing data: snapshots become version 0, later updates 1..n in their old order.
			await sql`insert into doc_snaps (doc, data, upto) select doc, data, 0 from doc_snapshots`.execute(
				db
			);
			await sql`insert into doc_log (doc, version, data)
				select doc, row_number() over (partition by doc order by seq), data from doc_updates`.execute(db);
			await sql`insert into doc_heads (doc, version)
				select doc, count(*) from doc_updates group by doc`.execute(db);
			await db.schema.dropTable('doc_updates').execute();
			await db.schema.dropTable('doc_snapshots').execute();
			// The widget-session signing key (an earlier version created this table on demand).
			await db.schema
				.createTable('server_keys')
				.ifNotExists()
				.addColumn('name', 'text', (c) => c.primaryKey())
				.addColumn('value', t.blob, (c) => c.notNull())
				.execute();
		}
	},
	/** Durable timers (offer timeouts and later ones), fired by whichever instance claims them. */
	'0003_timers': {
		async up(db: Kysely<unknown>) {
			await db.schema
				.createTable('timers')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('kind', 'text', (c) => c.notNull())
				.addColumn('payload', 'text', (c) => c.notNull())
				.addColumn('due_at', 'bigint', (c) => c.notNull())
				/** While set and in the future, an instance is running the timer (a lease). */
				.addColumn('locked_until', 'bigint')
				.addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
				.execute();
			await db.schema.createIndex('timers_due').on('timers').column('due_at').execute();
		}
	},
	/**
	 * The routing engine: queues with required skills and their own offer timeout, agent skills
	 * and idle time, workstream settings (keep the same agent, operating hours, waiting texts),
	 * and which instance holds which agent's sockets (for going Offline after a grace period).
	 */
	'0004_routing': {
		async up(db: Kysely<unknown>) {
			await db.schema
				.createTable('queues')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('skills', 'text', (c) => c.notNull().defaultTo('[]'))
				.addColumn('offer_timeout_ms', 'bigint')
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			// Each workstream's queue so far becomes a row of its own.
			await sql`insert into queues (id, name, skills, created_at)
				select 'q_' || id, queue_name, '[]', created_at from workstreams`.execute(db);
			const addColumns = async (
				table: string,
				columns: [string, 'text' | 'integer' | 'bigint', unknown?][]
			) => {
				for (const [name, type, def] of columns)
					await db.schema
						.alterTable(table)
						.addColumn(name, type, (c) => (def === undefined ? c : c.notNull().defaultTo(def)))
						.execute();
			};
			await addColumns('workstreams', [
				['queue_id', 'text'],
				['keep_same_agent', 'integer', 0],
				['keep_wait_ms', 'bigint', 300_000],
				['hours', 'text'],
				['queue_position_text', 'text'],
				['wait_time_text', 'text'],
				['offline_text', 'text']
			]);
			await sql`update workstreams set queue_id = 'q_' || id`.execute(db);
			await db.schema.alterTable('workstreams').dropColumn('queue_name').execute();
			await addColumns('agents', [
				['skills', 'text', '[]'],
				['idle_since', 'bigint', 0]
			]);
			await sql`update agents set idle_since = presence_since`.execute(db);
			await addColumns('conversations', [
				['queue_id', 'text'],
				['preferred_agent_id', 'text'],
				['preferred_until', 'bigint'],
				['offline_message', 'integer', 0]
			]);
			await sql`update conversations set queue_id =
				(select queue_id from workstreams w where w.id = conversations.workstream_id)`.execute(db);
			await db.schema
				.createIndex('conversations_queue')
				.on('conversations')
				.columns(['status', 'requested_at'])
				.execute();
			await db.schema
				.createIndex('offers_conversation')
				.on('offers')
				.columns(['conversation_id', 'status'])
				.execute();
			await db.schema
				.createTable('agent_connections')
				.addColumn('agent_id', 'text', (c) => c.notNull())
				.addColumn('instance_id', 'text', (c) => c.notNull())
				.addColumn('seen_at', 'bigint', (c) => c.notNull())
				.addPrimaryKeyConstraint('agent_connections_pk', ['agent_id', 'instance_id'])
				.execute();
		}
	},
	/** Transfers: the agent handing a conversation over keeps it (and its capacity) until taken. */
	'0005_transfers': {
		async up(db: Kysely<unknown>) {
			await db.schema.alterTable('conversations').addColumn('transfer_from', 'text').execute();
		}
	},
	'0006_agent_actions': {
		async up(db: Kysely<unknown>) {
			// The ticket event history (SPEC A3): what the side panel lists and reports read.
			await db.schema
				.createTable('conversation_events')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('conversation_id', 'text', (c) => c.notNull())
				.addColumn('type', 'text', (c) => c.notNull())
				.addColumn('actor', 'text')
				.addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
				.addColumn('at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createIndex('conversation_events_conversation')
				.on('conversation_events')
				.columns(['conversation_id', 'at'])
				.execute();
			await db.schema
				.createTable('templates')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('text', 'text', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.alterTable('offers')
				.addColumn('kind', 'text', (c) => c.notNull().defaultTo('route'))
				.execute();
			await db.schema
				.alterTable('workstreams')
				.addColumn('wrap_up_reasons', 'text', (c) =>
					c
						.notNull()
						.defaultTo('["Resolved","Information given","Follow-up needed","Not resolved"]')
				)
				.execute();
			for (const [name, type, def] of [
				['ticket_status', 'text', 'new'],
				['wrap_up_reason', 'text', null],
				['ended_at', 'bigint', null],
				['ended_by', 'text', null]
			] as const)
				await db.schema
					.alterTable('conversations')
					.addColumn(name, type, (c) => (def === null ? c : c.notNull().defaultTo(def)))
					.execute();
			await sql`update conversations set ticket_status = 'open' where status = 'active'`.execute(
				db
			);
		}
	},
	'0007_participant_indexes': {
		async up(db: Kysely<unknown>) {
			// An agent's load (every routing pass) and recent service times (every queue sweep)
			// look participants up by agent and by join time; the primary key leads with the
			// conversation, so without these both scan the whole, ever-growing table.
			await db.schema
				.createIndex('participants_agent')
				.on('participants')
				.column('agent_id')
				.execute();
			await db.schema
				.createIndex('participants_joined')
				.on('participants')
				.column('joined_at')
				.execute();
		}
	},
	'0008_sessions_tickets': {
		async up(db: Kysely<unknown>) {
			// The session (SPEC A9, C7) and the ticket (A11, C8) beside the conversation: a
			// conversation has one messaging session and one ticket; each has its own state.
			for (const [name, type, def] of [
				['session_status', 'text', 'active'],
				['session_ended_by', 'text', null],
				['channel', 'text', 'messaging'],
				['solved_at', 'bigint', null],
				['closed_at', 'bigint', null],
				['csat_requested_at', 'bigint', null],
				['csat_rating', 'integer', null],
				['csat_comment', 'text', null],
				['csat_at', 'bigint', null],
				['tags', 'text', '[]']
			] as const)
				await db.schema
					.alterTable('conversations')
					.addColumn(name, type, (c) => (def === null ? c : c.notNull().defaultTo(def)))
					.execute();
			await sql`update conversations set channel = 'email' where offline_message = 1`.execute(db);
			// Who and when stay in ended_by and ended_at (0006); the session adds the role.
			await sql`update conversations set session_status = 'ended',
				session_ended_by = case when ended_by like 'customer:%' then 'customer' else 'agent' end
				where status = 'ended'`.execute(db);
			await db.schema
				.alterTable('workstreams')
				.addColumn('style', 'text', (c) => c.notNull().defaultTo('live'))
				.execute();
			await sql`update workstreams set style = 'social' where mode = 'persistent'`.execute(db);
			// Null: the style's default (src/lib/domain/conversation-style.ts).
			await db.schema.alterTable('workstreams').addColumn('solved_close_ms', 'bigint').execute();
			await db.schema
				.createTable('triggers')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('position', 'integer', (c) => c.notNull())
				.addColumn('active', 'integer', (c) => c.notNull())
				.addColumn('conditions', 'text', (c) => c.notNull())
				.addColumn('actions', 'text', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			// One row per (event, trigger) that ran: a trigger's actions happen once per event,
			// even when an instance dies half-way and another evaluates the event again.
			await db.schema
				.createTable('trigger_runs')
				.addColumn('event_id', 'text', (c) => c.notNull())
				.addColumn('trigger_id', 'text', (c) => c.notNull())
				.addColumn('at', 'bigint', (c) => c.notNull())
				.addPrimaryKeyConstraint('trigger_runs_pk', ['event_id', 'trigger_id'])
				.execute();
			await db.schema
				.createTable('mail_outbox')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('kind', 'text', (c) => c.notNull())
				.addColumn('conversation_id', 'text')
				.addColumn('to_address', 'text', (c) => c.notNull())
				.addColumn('subject', 'text', (c) => c.notNull())
				.addColumn('body', 'text', (c) => c.notNull())
				.addColumn('status', 'text', (c) => c.notNull())
				.addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
				.addColumn('error', 'text')
				.addColumn('message_id', 'text')
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.addColumn('sent_at', 'bigint')
				.execute();
			await db.schema
				.createIndex('mail_outbox_created')
				.on('mail_outbox')
				.column('created_at')
				.execute();
			const def = DEFAULT_TRIGGERS[0];
			await sql`insert into triggers (id, name, position, active, conditions, actions, created_at)
				values ('tr_default_csat', ${def.name}, 0, 1, ${JSON.stringify(def.conditions)},
					${JSON.stringify(def.actions)}, ${Date.now()})`.execute(db);
		}
	},
	'0009_admin_integrations': {
		async up(db: Kysely<unknown>) {
			// The admin console (SPEC M1, M2): the widget's look, CSAT on or off, rotated secrets.
			await db.schema
				.alterTable('workstreams')
				.addColumn('color', 'text', (c) => c.notNull().defaultTo('#2563eb'))
				.execute();
			await db.schema
				.alterTable('workstreams')
				.addColumn('csat_enabled', 'integer', (c) => c.notNull().defaultTo(1))
				.execute();
			// A rotated secret stays listed as revoked: its hint (never the secret) and when.
			await db.schema
				.createTable('workstream_secrets')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('workstream_id', 'text', (c) => c.notNull())
				.addColumn('hint', 'text', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.addColumn('revoked_at', 'bigint', (c) => c.notNull())
				.execute();
			// A disabled agent cannot sign in or take chats; their history stays.
			await db.schema.alterTable('agents').addColumn('disabled_at', 'bigint').execute();
			// The skills an admin may give agents and require on queues.
			await db.schema
				.createTable('skills')
				.addColumn('name', 'text', (c) => c.primaryKey())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			const used = new Set<string>();
			for (const table of ['agents', 'queues'] as const) {
				const rows = await sql<{ skills: string }>`select skills from ${sql.table(table)}`.execute(
					db
				);
				for (const r of rows.rows)
					for (const s of JSON.parse(r.skills) as string[]) if (typeof s === 'string') used.add(s);
			}
			for (const name of used)
				await sql`insert into skills (name, created_at) values (${name}, ${Date.now()})`.execute(
					db
				);
			// Reports (SPEC M3): when an agent's first message reached the conversation.
			await db.schema
				.alterTable('conversations')
				.addColumn('first_response_at', 'bigint')
				.execute();
			// Integrator API keys (SPEC P3): only a SHA-256 of the key is kept.
			await db.schema
				.createTable('api_keys')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('name', 'text', (c) => c.notNull())
				.addColumn('hash', 'text', (c) => c.notNull().unique())
				.addColumn('hint', 'text', (c) => c.notNull())
				.addColumn('created_by', 'text', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.addColumn('last_used_at', 'bigint')
				.addColumn('revoked_at', 'bigint')
				.execute();
			await db.schema
				.createTable('webhooks')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('url', 'text', (c) => c.notNull())
				.addColumn('events', 'text', (c) => c.notNull())
				.addColumn('secret', 'text', (c) => c.notNull())
				.addColumn('active', 'integer', (c) => c.notNull())
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.execute();
			await db.schema
				.createTable('webhook_deliveries')
				.addColumn('id', 'text', (c) => c.primaryKey())
				.addColumn('webhook_id', 'text', (c) => c.notNull())
				.addColumn('event_id', 'text', (c) => c.notNull())
				.addColumn('event_type', 'text', (c) => c.notNull())
				.addColumn('body', 'text', (c) => c.notNull())
				.addColumn('status', 'text', (c) => c.notNull())
				.addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
				.addColumn('response_status', 'integer')
				.addColumn('error', 'text')
				.addColumn('next_attempt_at', 'bigint')
				.addColumn('created_at', 'bigint', (c) => c.notNull())
				.addColumn('delivered_at', 'bigint')
				.addUniqueConstraint('webhook_deliveries_once', ['webhook_id', 'event_id'])
				.execute();
			await db.schema
				.createIndex('webhook_deliveries_created')
				.on('webhook_deliveries')
				.column('created_at')
				.execute();
			await db.schema
				.createIndex('conversation_events_at')
				.on('conversation_events')
				.column('at')
				.execute();
		}
	},
	'0010_password_temporary': {
		async up(db: Kysely<unknown>) {
			// 1 while the password is one an admin set or generated: the agent chooses their own.
			await db.schema
				.alterTable('agents')
				.addColumn('password_temporary', 'integer', (c) => c.notNull().defaultTo(0))
				.execute();
		}
	}
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrate(db: Kysely<unknown>): Promise<string[]> {
	// On PostgreSQL, keep Kysely's bookkeeping tables in our schema (the first on search_path);
	// otherwise it may find another schema's and then fail to use them.
	const schema = types(db).pg
		? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0].s
		: undefined;
	const { error, results } = await new Migrator({
		db,
		provider,
		migrationTableSchema: schema
	}).migrateToLatest();
	if (error) throw error instanceof Error ? error : new Error(String(error));
	return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
