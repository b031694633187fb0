/** Relational tables (Kysely types). The same schema serves SQLite now and PostgreSQL later. */
import type { ColumnType, Generated } from 'kysely';

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
	/** JSON array of skill names. */
	skills: string;
	/** When the agent last became Available or last got an offer (ms), for "idle longest". */
	idle_since: number;
	/** Set when an admin disabled the account: no sign-in, no chats; history stays. */
	disabled_at: ColumnType<number | null, number | null | undefined, number | null>;
	/** 1 while the password is one an admin set or generated: the agent is asked to choose one. */
	password_temporary: ColumnType<number, number | undefined, number>;
	created_at: number;
}

export interface QueueTable {
	id: string;
	name: string;
	/** JSON array of skill names an agent needs, all of them, to be offered this queue's requests. */
	skills: string;
	/** How long an agent has to accept this queue's offers; null uses PARLEY_OFFER_TIMEOUT_MS. */
	offer_timeout_ms: number | null;
	created_at: number;
}

/** An instance holding sockets of an agent, refreshed while they are open. */
export interface AgentConnectionTable {
	agent_id: string;
	instance_id: string;
	seen_at: number;
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
	queue_id: string;
	/** Persistent chat: a returning customer goes back to the agent they had (SPEC R4, A12). */
	keep_same_agent: number;
	/** How long such a request waits for that agent before any agent may take it. */
	keep_wait_ms: number;
	/** Weekly opening hours and time zone (JSON OperatingHours); null means always open. */
	hours: string | null;
	/** Overrides of the waiting texts (null: the defaults). See src/lib/domain/queue-wait.ts. */
	queue_position_text: string | null;
	wait_time_text: string | null;
	offline_text: string | null;
	auth_required: number;
	secret: string;
	title: string;
	greeting: string;
	/** JSON array of the reasons an agent picks from when ending a conversation (SPEC A7). */
	wrap_up_reasons: ColumnType<string, string | undefined, string>;
	/** Conversation style (src/lib/domain/conversation-style.ts): live, returning or social. */
	style: ColumnType<string, string | undefined, string>;
	/** How long Solved waits before Closed; null uses the style's default. */
	solved_close_ms: ColumnType<number | null, number | null | undefined, number | null>;
	/** The widget's accent colour (`#rrggbb`). */
	color: ColumnType<string, string | undefined, string>;
	/** Whether triggers may send this workstream's customers a CSAT survey. */
	csat_enabled: ColumnType<number, number | undefined, number>;
	created_at: number;
}

/** A widget secret replaced by a rotation: shown revoked in the console by its hint only. */
export interface WorkstreamSecretTable {
	id: string;
	workstream_id: string;
	hint: string;
	created_at: number;
	revoked_at: number;
}

export interface SkillTable {
	name: string;
	created_at: number;
}

/** An integrator's API key (SPEC P3); the key itself is shown once and only its hash kept. */
export interface ApiKeyTable {
	id: string;
	name: string;
	hash: string;
	/** The key's last characters, to tell keys apart. */
	hint: string;
	created_by: string;
	created_at: number;
	last_used_at: number | null;
	revoked_at: number | null;
}

export interface WebhookTable {
	id: string;
	url: string;
	/** JSON array of WEBHOOK_EVENTS. */
	events: string;
	/** HMAC key of the signature header. */
	secret: string;
	active: number;
	created_at: number;
}

export interface WebhookDeliveryTable {
	id: string;
	webhook_id: string;
	event_id: string;
	event_type: string;
	/** The JSON body, fixed when queued so every retry sends the same bytes. */
	body: string;
	/** `pending`, `delivered` or `failed` (gave up). */
	status: string;
	attempts: ColumnType<number, number | undefined, number>;
	response_status: number | null;
	error: string | null;
	next_attempt_at: number | null;
	created_at: number;
	delivered_at: number | null;
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
	queue_id: string | null;
	/** Keep the same agent: offered to this agent only, until `preferred_until`. */
	preferred_agent_id: string | null;
	preferred_until: number | null;
	/** Left outside operating hours through the widget's message form (a ticket waiting for an agent). */
	offline_message: number;
	/** Being transferred by this agent, who holds it (and its capacity) until another accepts. */
	transfer_from: string | null;
	/** The ticket's status (src/lib/domain/ticket-state.ts); `new` when stored. */
	ticket_status: ColumnType<string, string | undefined, string>;
	/** The wrap-up reason the agent submitted when ending it. */
	wrap_up_reason: ColumnType<string | null, string | null | undefined, string | null>;
	ended_at: ColumnType<number | null, number | null | undefined, number | null>;
	/** Principal who ended it (`agent:<id>` or `customer:<id>`). */
	ended_by: ColumnType<string | null, string | null | undefined, string | null>;
	/** The messaging session (src/lib/domain/session-state.ts): `active` or `ended`. */
	session_status: ColumnType<string, string | undefined, string>;
	/** `agent`, `customer` or `system` once ended (who and when: `ended_by`, `ended_at`). */
	session_ended_by: ColumnType<string | null, string | null | undefined, string | null>;
	/** The ticket's channel: `messaging` (the widget) or `email` (a message left offline). */
	channel: ColumnType<string, string | undefined, string>;
	solved_at: ColumnType<number | null, number | null | undefined, number | null>;
	closed_at: ColumnType<number | null, number | null | undefined, number | null>;
	/** CSAT (SPEC C8): when the survey was sent, and the answer. */
	csat_requested_at: ColumnType<number | null, number | null | undefined, number | null>;
	csat_rating: ColumnType<number | null, number | null | undefined, number | null>;
	csat_comment: ColumnType<string | null, string | null | undefined, string | null>;
	csat_at: ColumnType<number | null, number | null | undefined, number | null>;
	/** JSON array of tags (added by triggers). */
	tags: ColumnType<string, string | undefined, string>;
	/** When an agent's first message reached the conversation (reports). */
	first_response_at: ColumnType<number | null, number | null | undefined, number | null>;
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
	/** `expired`: not accepted in time (the agent went to RONA); `declined`: the agent said no. */
	status: 'pending' | 'accepted' | 'withdrawn' | 'expired' | 'declined';
	/** `route`: take the conversation; `conference`: join the agents already in it. */
	kind: ColumnType<'route' | 'conference', 'route' | 'conference' | undefined, never>;
	created_at: number;
}

/** One entry of a conversation's event history (SPEC A3). */
export interface ConversationEventTable {
	id: string;
	conversation_id: string;
	/** See EVENT_TYPES in src/lib/domain/events.ts. */
	type: string;
	/** Principal who caused it, or null for the system. */
	actor: string | null;
	/** JSON details (names, reason, target). */
	data: string;
	at: number;
}

export interface TemplateTable {
	id: string;
	name: string;
	text: string;
	created_at: number;
}

/** A ticket trigger (src/lib/domain/triggers.ts); conditions and actions are JSON. */
export interface TriggerTable {
	id: string;
	name: string;
	position: number;
	active: number;
	conditions: string;
	actions: string;
	created_at: number;
}

/** A trigger that ran for an event (at most once per event and trigger). */
export interface TriggerRunTable {
	event_id: string;
	trigger_id: string;
	at: number;
}

/** Every email Parley sends (SPEC P4), and what became of it. */
export interface MailOutboxTable {
	id: string;
	/** `reply` (a public reply by email), `offline_confirmation` or `csat`. */
	kind: string;
	conversation_id: string | null;
	to_address: string;
	subject: string;
	body: string;
	/** `queued`, `sent` (SMTP accepted it), `failed` (gave up) or `local` (no SMTP configured). */
	status: string;
	attempts: ColumnType<number, number | undefined, number>;
	error: string | null;
	message_id: string | null;
	created_at: number;
	sent_at: number | null;
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
	queues: QueueTable;
	agent_connections: AgentConnectionTable;
	conversation_events: ConversationEventTable;
	templates: TemplateTable;
	triggers: TriggerTable;
	trigger_runs: TriggerRunTable;
	mail_outbox: MailOutboxTable;
	workstream_secrets: WorkstreamSecretTable;
	skills: SkillTable;
	api_keys: ApiKeyTable;
	webhooks: WebhookTable;
	webhook_deliveries: WebhookDeliveryTable;
}
