/** Relational tables (Kysely types). The same schema serves SQLite now and PostgreSQL later. */
import type { Generated } from 'kysely';

export interface AgentTable {
	id: string;
	email: string;
	name: string;
	password_hash: string;
	role: 'agent' | 'admin';
	capacity: number;
	presence: string;
	/** When the agent last became Available or finished a conversation (ms); for idle ordering. */
	presence_since: number;
	created_at: number;
}

export interface AuthSessionTable {
	/** SHA-256 of the cookie value; the cookie itself is never stored. */
	id_hash: string;
	agent_id: string;
	expires_at: number;
	created_at: number;
}

export interface WorkstreamTable {
	id: string;
	slug: string;
	name: string;
	mode: 'live' | 'persistent';
	queue_name: string;
	auth_required: number;
	secret: string;
	title: string;
	greeting: string;
	created_at: number;
}

export interface CustomerTable {
	id: string;
	workstream_id: string;
	/** The host site's id for an authenticated customer; null for anonymous ones. */
	external_id: string | null;
	name: string;
	email: string | null;
	authenticated: number;
	created_at: number;
}

export interface ConversationTable {
	id: string;
	workstream_id: string;
	customer_id: string;
	status: string;
	/** When the first customer message arrived (the request time); null until then. */
	requested_at: number | null;
	created_at: number;
	updated_at: number;
}

export interface ParticipantTable {
	conversation_id: string;
	agent_id: string;
	joined_at: number;
}

export interface OfferTable {
	id: string;
	conversation_id: string;
	agent_id: string;
	/** `expired`: not accepted in time (the agent went to RONA). */
	status: 'pending' | 'accepted' | 'withdrawn' | 'expired';
	created_at: number;
}

export interface MigrationNote {
	id: Generated<number>;
}

/** Stored Yjs updates: version n is the n-th update stored for `doc`. */
export interface DocLogTable {
	doc: string;
	version: number;
	data: Uint8Array;
}

/** The last version assigned per document (the row lock that orders concurrent writers). */
export interface DocHeadTable {
	doc: string;
	version: number;
}

/** A snapshot holding every update of `doc` up to version `upto` (whose log rows are deleted). */
export interface DocSnapTable {
	doc: string;
	data: Uint8Array;
	upto: number;
}

export interface ServerKeyTable {
	name: string;
	value: Uint8Array;
}

export interface TimerTable {
	id: string;
	kind: string;
	payload: string;
	due_at: number;
	locked_until: number | null;
	attempts: Generated<number>;
}

export interface Database {
	timers: TimerTable;
	doc_log: DocLogTable;
	doc_heads: DocHeadTable;
	doc_snaps: DocSnapTable;
	server_keys: ServerKeyTable;
	agents: AgentTable;
	auth_sessions: AuthSessionTable;
	workstreams: WorkstreamTable;
	customers: CustomerTable;
	conversations: ConversationTable;
	participants: ParticipantTable;
	offers: OfferTable;
}
