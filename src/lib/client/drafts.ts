/**
 * Unsent composer drafts of the agent workspace, one per conversation, in this tab's
 * sessionStorage: a reload (or the browser restoring the tab) keeps a half-written reply, and
 * closing the tab or signing out forgets it. Storage may be refused (private modes): then
 * drafts last as long as the page.
 */
export interface Draft {
	text: string;
	channel: 'chat' | 'note' | 'email';
	/** The agent picked the channel (else it follows the session). */
	chosen: boolean;
}

const PREFIX = 'parley:draft:';
const keyOf = (principal: string, conversationId: string) =>
	`${PREFIX}${principal}:${conversationId}`;
const memory = new Map<string, string>();

function store(): Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> {
	try {
		return window.sessionStorage;
	} catch {
		return {
			getItem: (k) => memory.get(k) ?? null,
			setItem: (k, v) => void memory.set(k, v),
			removeItem: (k) => void memory.delete(k)
		};
	}
}

export function loadDraft(principal: string, conversationId: string): Draft | null {
	try {
		const raw = store().getItem(keyOf(principal, conversationId));
		const d = raw ? (JSON.parse(raw) as Partial<Draft>) : null;
		if (!d || typeof d.text !== 'string') return null;
		const channel = d.channel === 'note' || d.channel === 'email' ? d.channel : 'chat';
		return { text: d.text, channel, chosen: d.chosen === true };
	} catch {
		return null;
	}
}

/** Keeps `draft` (or forgets it: null, or nothing typed and no channel picked). */
export function saveDraft(principal: string, conversationId: string, draft: Draft | null) {
	const key = keyOf(principal, conversationId);
	try {
		if (!draft || (!draft.text.trim() && !draft.chosen)) store().removeItem(key);
		else store().setItem(key, JSON.stringify(draft));
	} catch {
		/* storage full or refused: the draft stays in the page */
	}
}

/** Forgets every draft of this tab (sign-out). */
export function clearDrafts() {
	memory.clear();
	try {
		const s = window.sessionStorage;
		for (const k of Object.keys(s)) if (k.startsWith(PREFIX)) s.removeItem(k);
	} catch {
		/* nothing kept */
	}
}
