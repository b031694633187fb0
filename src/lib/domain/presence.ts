/** Agent presence values (SPEC A1). Only Available agents receive offers. */
export const PRESENCE_CHOICES = ['Available', 'Busy', 'Away', 'Offline'] as const;
export const PRESENCE_VALUES = [...PRESENCE_CHOICES, 'RONA'] as const;
export type Presence = (typeof PRESENCE_VALUES)[number];
export type PresenceChoice = (typeof PRESENCE_CHOICES)[number];

export const isPresenceChoice = (v: unknown): v is PresenceChoice =>
	typeof v === 'string' && (PRESENCE_CHOICES as readonly string[]).includes(v);

/**
 * What the workspace says about the agent's presence next to their conversations: why no
 * chats arrive, and what happens to the ones they have. Null when there is nothing to say.
 * `reason` is the inbox's `presenceReason` (the server set Offline for a lost connection);
 * `room`, the agent's load (counted as routing counts it) and capacity.
 */
export function presenceHint(
	presence: string,
	reason: string | undefined,
	hasConversations: boolean,
	room?: { load: number; capacity: number }
): string | null {
	if (presence === 'Available') {
		if (room && room.capacity > 0 && room.load >= room.capacity)
			return `You are at capacity (${room.load} of ${room.capacity} chats): new chats wait until one of yours ends.`;
		return hasConversations ? null : 'Waiting for customers…';
	}
	if (presence === 'RONA')
		return (
			'You did not answer an offer in time (RONA). Set Available to receive chats again.' +
			(hasConversations ? ' Your conversations stay yours.' : '')
		);
	if (presence === 'Offline' && reason === 'disconnected')
		return (
			'You were set Offline: no workspace was connected for over a minute (network lost or every tab closed). ' +
			'Set Available to receive chats again.'
		);
	if (!hasConversations) return 'Set Available to receive chats.';
	if (presence === 'Offline')
		return 'You are Offline: a customer who writes now goes to another agent. Set Available to receive chats.';
	return `No new chats while ${presence}; your conversations stay yours.`;
}
