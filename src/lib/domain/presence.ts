/** Agent presence values (SPEC A1). Only Available agents receive offers. */
export const PRESENCE_CHOICES = ['Available', 'Busy', 'Away', 'Offline'] as const;
export const PRESENCE_VALUES = [...PRESENCE_CHOICES, 'RONA'] as const;
export type Presence = (typeof PRESENCE_VALUES)[number];
export type PresenceChoice = (typeof PRESENCE_CHOICES)[number];

export const isPresenceChoice = (v: unknown): v is PresenceChoice =>
	typeof v === 'string' && (PRESENCE_CHOICES as readonly string[]).includes(v);
