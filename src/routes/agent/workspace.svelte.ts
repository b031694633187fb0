/**
 * The agent workspace's state: sign-in, presence, the inbox document (offers and accepted
 * conversations, written by the server), and one ChatSession per open conversation.
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { ChatSession } from '$lib/client/chat-session';
import { ChatView } from '$lib/client/chat.svelte';
import { clearLocalData, followNetwork, indexeddb, syncUrl } from '$lib/client/persistence';
import {
	offersOf,
	inboxConversationsOf,
	agentStateOf,
	type OfferView,
	type InboxConversation
} from '$lib/domain/inbox-doc';
import type { LocalPersistence } from '$lib/client/chat-session';
import type { PresenceChoice } from '$lib/domain/presence';

export interface Me {
	id: string;
	principal: string;
	email: string;
	name: string;
	role: string;
	capacity: number;
	presence: string;
}

async function call<T>(
	path: string,
	body?: unknown
): Promise<{ ok: boolean; status: number; data: T & { error?: { message: string } } }> {
	const res = await fetch(path, {
		method: body === undefined ? 'GET' : 'POST',
		headers: body === undefined ? {} : { 'content-type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const data = await res
		.json()
		.catch(() => ({ error: { message: `Request failed (${res.status})` } }));
	return { ok: res.ok, status: res.status, data };
}

export class Workspace {
	phase = $state<'loading' | 'login' | 'ready' | 'unreachable'>('loading');
	me = $state<Me | null>(null);
	error = $state<string | null>(null);
	selectedId = $state<string | null>(null);
	inboxStatus = $state<'connecting' | 'connected' | 'offline' | 'closed'>('connecting');
	#version = $state(0);
	#inbox: { doc: Y.Doc; provider: WebsocketProvider; local: LocalPersistence } | null = null;
	// Caches of open sessions, not state: each ChatView is reactive on its own.
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#chats = new Map<string, ChatView>();
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#previews = new Map<string, ChatView>();
	#stopNetwork: (() => void) | null = null;

	async start() {
		let r;
		try {
			r = await call<{ agent: Me }>('/api/agent/me');
		} catch {
			this.phase = 'unreachable';
			return;
		}
		if (!r.ok) {
			this.phase = 'login';
			return;
		}
		this.#ready(r.data.agent);
	}

	async login(email: string, password: string) {
		this.error = null;
		try {
			const r = await call<{ agent: Me }>('/api/auth/login', { email, password });
			if (!r.ok) {
				this.error = r.data.error?.message ?? 'Could not sign in.';
				return;
			}
			this.#ready(r.data.agent);
		} catch {
			this.error = 'The server cannot be reached. Check your connection and try again.';
		}
	}

	#ready(me: Me) {
		this.me = me;
		this.phase = 'ready';
		const doc = new Y.Doc();
		const local = indexeddb(`parley/${me.principal}/inbox`, doc);
		const provider = new WebsocketProvider(syncUrl(), 'inbox', doc, {
			disableBc: true,
			maxBackoffTime: 5000
		});
		provider.awareness.setLocalState(null);
		provider.on('status', ({ status }: { status: string }) => {
			this.inboxStatus =
				status === 'connected' ? 'connected' : navigator.onLine ? 'connecting' : 'offline';
		});
		provider.on('closed', ({ code }: { code: number }) => {
			this.inboxStatus = 'closed';
			if (code === 4401) this.phase = 'login'; // session expired: sign in again, local data stays
		});
		doc.on('update', () => this.#version++);
		this.#inbox = { doc, provider, local };
		this.#stopNetwork = followNetwork(
			() => this.#eachConnection((c) => c.connect()),
			() => {
				this.inboxStatus = 'offline';
				this.#eachConnection((c) => c.disconnect());
			}
		);
		if (!navigator.onLine) this.#eachConnection((c) => c.disconnect());
	}

	#eachConnection(fn: (c: { connect(): void; disconnect(): void }) => void) {
		if (this.#inbox) fn(this.#inbox.provider);
		for (const c of this.#chats.values()) fn(c.session);
		for (const c of this.#previews.values()) fn(c.session);
	}

	get presence(): string {
		void this.#version;
		return (
			(this.#inbox && (agentStateOf(this.#inbox.doc).get('presence') as string | undefined)) ??
			this.me?.presence ??
			'Offline'
		);
	}

	get offers(): OfferView[] {
		void this.#version;
		if (!this.#inbox) return [];
		return [...offersOf(this.#inbox.doc).values()].sort((a, b) => a.offeredAt - b.offeredAt);
	}

	get conversations(): InboxConversation[] {
		void this.#version;
		if (!this.#inbox) return [];
		return [...inboxConversationsOf(this.#inbox.doc).values()].sort(
			(a, b) => b.acceptedAt - a.acceptedAt
		);
	}

	async setPresence(presence: PresenceChoice) {
		const r = await call('/api/agent/presence', { presence }).catch(() => null);
		if (!r) this.error = 'You are offline: presence changes need a connection.';
		else if (!r.ok) this.error = r.data.error?.message ?? 'Could not change presence.';
		else this.error = null;
	}

	#session(conversationId: string, readOnly: boolean): ChatView {
		const me = this.me!;
		return new ChatView(
			new ChatSession({
				serverUrl: syncUrl(),
				conversationId,
				me: { principal: me.principal, role: 'agent', name: me.name },
				persistence: readOnly ? undefined : indexeddb,
				readOnly
			})
		);
	}

	/** The thread so far, for an offer's popover. */
	preview(offer: OfferView): ChatView {
		let v = this.#previews.get(offer.offerId);
		if (!v) {
			v = this.#session(offer.conversationId, true);
			this.#previews.set(offer.offerId, v);
		}
		return v;
	}

	chat(conversationId: string): ChatView {
		let v = this.#chats.get(conversationId);
		if (!v) {
			v = this.#session(conversationId, false);
			this.#chats.set(conversationId, v);
		}
		return v;
	}

	async accept(offer: OfferView) {
		const r = await call<{ conversationId: string }>(
			`/api/agent/offers/${offer.offerId}/accept`,
			{}
		).catch(() => null);
		if (!r) {
			this.error = 'You are offline: accepting needs a connection.';
			return;
		}
		if (!r.ok) {
			this.error = r.data.error?.message ?? 'Could not accept.';
			return;
		}
		this.#previews.get(offer.offerId)?.destroy();
		this.#previews.delete(offer.offerId);
		this.error = null;
		this.selectedId = r.data.conversationId;
	}

	async signOut() {
		const principal = this.me?.principal;
		await call('/api/auth/logout', {}).catch(() => null);
		this.destroy();
		if (principal) await clearLocalData(principal);
		this.me = null;
		this.selectedId = null;
		this.phase = 'login';
	}

	destroy() {
		this.#stopNetwork?.();
		for (const v of [...this.#chats.values(), ...this.#previews.values()]) v.destroy();
		this.#chats.clear();
		this.#previews.clear();
		if (this.#inbox) {
			this.#inbox.provider.destroy();
			this.#inbox.local.destroy();
			this.#inbox.doc.destroy();
			this.#inbox = null;
		}
	}
}
