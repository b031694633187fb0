/**
 * Versioned schema migrations, run on start by Kysely's Migrator. Written with the schema
 * builder so one list serves SQLite and PostgreSQL. Add new ones; never edit a shipped one.
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
	'0001_foundation': {
		async up(db: Kysely<unknown>) {
			await db.schema
				.createTable('doc_updates')
				.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
				.addColumn('doc', 'text', (c) => c.notNull())
				.addColumn('data', 'blob', (c) => c.notNull())
				.execute();
			await db.schema
				.createIndex('doc_updates_doc')
				.on('doc_updates')
				.columns(['doc', 'seq'])
				.execute();
			await db.schema
				.createTable('doc_snapshots')
				.addColumn('doc', 'text', (c) => c.primaryKey())
				.addColumn('data', 'blob', (c) => c.notNull())
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
	}
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrate(db: Kysely<unknown>): Promise<string[]> {
	const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
	if (error) throw error instanceof Error ? error : new Error(String(error));
	return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
