/** What the admin API answers (server/http/admin.ts), as the console reads it. */
import type { WorkstreamSettings } from '$lib/domain/workstream-settings';
import type { TriggerAction, TriggerCondition } from '$lib/domain/triggers';

export interface Queue {
	id: string;
	name: string;
	skills: string[];
	/** Null: the server's default. */
	offerTimeoutMs: number | null;
	/** Names of the workstreams that use it. */
	workstreams: string[];
}

export interface QueuesReply {
	defaultOfferTimeoutMs: number;
	queues: Queue[];
}

export interface Skill {
	name: string;
	agents: number;
	queues: number;
}

export interface WorkstreamDetails {
	workstream: WorkstreamSettings & { id: string };
	secret: string;
	revokedSecrets: { hint: string; createdAt: number; revokedAt: number }[];
	snippet: string;
}

export interface AdminAgent {
	id: string;
	email: string;
	name: string;
	role: 'agent' | 'admin';
	capacity: number;
	skills: string[];
	presence: string;
	disabled: boolean;
}

export interface AdminTemplate {
	id: string;
	name: string;
	text: string;
}

export interface AdminTrigger {
	id: string;
	name: string;
	position: number;
	active: boolean;
	conditions: TriggerCondition[];
	actions: TriggerAction[];
}

export interface ApiKey {
	id: string;
	name: string;
	hint: string;
	createdAt: number;
	lastUsedAt: number | null;
	revokedAt: number | null;
}

export interface Webhook {
	id: string;
	url: string;
	events: string[];
	secret: string;
	active: boolean;
	createdAt: number;
}

export interface Delivery {
	id: string;
	webhookId: string;
	/** Null once the webhook was deleted. */
	url: string | null;
	eventId: string;
	event: string;
	status: string;
	attempts: number;
	responseStatus: number | null;
	error: string | null;
	nextAttemptAt: number | null;
	createdAt: number;
	deliveredAt: number | null;
}
