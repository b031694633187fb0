/**
 * Wire constants shared by the server and the browser client. See docs/protocol.md.
 *
 * Message types 0–3 are y-websocket's (sync, awareness, auth, query-awareness). Parley adds
 * one outer type, `parley` (100), carrying a JSON notice; stock clients ignore it (they log
 * "Unable to compute message"), so nothing a stock client needs travels in it.
 */

export const MessageType = {
	sync: 0,
	awareness: 1,
	auth: 2,
	queryAwareness: 3,
	parley: 100
} as const;

/**
 * Close codes. 4400–4499 are terminal: y-websocket ≥ 3.1 does not reconnect after them.
 * Other codes (1011 internal error, 1012 server restarting) make the client reconnect with backoff.
 */
export const CloseCode = {
	badRequest: 4400,
	unauthorized: 4401,
	forbidden: 4403,
	notFound: 4404,
	messageTooLarge: 4413,
	rateLimited: 4429
} as const;

/** JSON notices sent in a `parley` (100) message. */
export type Notice =
	| { type: 'rejected'; id: string | null; code: string; reason: string }
	| { type: 'read_only'; reason: string }
	/** The device's copy of a server-written document holds changes the server lost (a restore). */
	| { type: 'diverged'; reason: string }
	| { type: 'error'; code: string; reason: string };
