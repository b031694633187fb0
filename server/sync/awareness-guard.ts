/**
 * Binds awareness (typing, presence) to the authenticated identity.
 *
 * y-protocols applies any awareness update as given, so a client could set another client's
 * state or claim any name. This module decodes the update (format: y-protocols/awareness
 * `encodeAwarenessUpdate`: count, then clientID, clock, JSON state), keeps only client ids the
 * connection owns, and replaces each state with one the server builds. Written by hand because
 * no library rewrites awareness updates; the format is three varints and a string.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

export interface AwarenessIdentity {
	principal: string;
	name: string;
	role: 'customer' | 'agent';
}

export interface SanitizedAwareness {
	/** The entries to apply, rewritten; null when there are none (e.g. only echoes). */
	update: Uint8Array | null;
	/** Client ids this update claimed for the connection. */
	claimed: number[];
	/** Number of entries dropped (not owned, or over the per-connection limit). */
	dropped: number;
}

/**
 * Stock y-websocket clients send back every awareness change they receive (their provider
 * broadcasts all `update` events, whatever the origin), so each renewal of the other side's
 * state comes back as an echo with the clock we already hold. Such an entry changes nothing
 * (y-protocols ignores a clock it has seen) and is not an attempt to speak for someone else:
 * it is skipped without a notice, and without claiming the client id. Claiming it would have
 * let the echo of a removal (a peer's socket dropped) take that peer's id, so the peer's
 * awareness would be refused when their provider reconnected with the same id.
 */
const isEcho = (clock: number, known: number | undefined) => known !== undefined && clock <= known;

export const MAX_CLIENT_IDS_PER_CONNECTION = 4;

/**
 * Who holds an awareness client id: this connection; another principal's connection; another
 * connection of this principal (`sibling`, which this one may take it from); nobody; or nobody
 * now but this principal before (`former`: their device is back after its socket closed).
 */
export type AwarenessOwner = 'self' | 'other' | 'sibling' | 'none' | 'former';

/**
 * @param ownerOf who holds the client id.
 * @param knownClock the room's clock for a client id, if it has seen that client.
 * @param offsets this connection's clock shifts per client id, read and written here. When a
 *   socket closes, the server removes its clients' states, which takes each client's next clock
 *   (y-protocols). The same provider reconnecting then announces itself at a clock everyone has
 *   seen, and its next change too, so they would be ignored. A returning client's clocks are
 *   shifted past the room's for as long as this connection lasts.
 */
export function sanitizeAwarenessUpdate(
	raw: Uint8Array,
	identity: AwarenessIdentity,
	owned: ReadonlySet<number>,
	ownerOf: (clientId: number) => AwarenessOwner,
	knownClock: (clientId: number) => number | undefined = () => undefined,
	offsets: Map<number, number> = new Map()
): SanitizedAwareness {
	const decoder = decoding.createDecoder(raw);
	const count = decoding.readVarUint(decoder);
	if (count > 64) throw new Error('too many awareness entries');
	const out: { clientId: number; clock: number; state: string }[] = [];
	const claimed: number[] = [];
	let dropped = 0;
	for (let i = 0; i < count; i++) {
		const clientId = decoding.readVarUint(decoder);
		let clock = decoding.readVarUint(decoder);
		const stateJson = decoding.readVarString(decoder);
		const state = JSON.parse(stateJson) as unknown;
		const owner = ownerOf(clientId);
		const known = knownClock(clientId);
		if (owner === 'self') clock += offsets.get(clientId) ?? 0;
		else if (owner === 'former' && state !== null && isEcho(clock, known)) {
			offsets.set(clientId, known! + 1 - clock);
			clock = known! + 1;
		} else if (isEcho(clock, known)) continue;
		if (owner === 'other') {
			dropped++;
			continue;
		}
		if (owner !== 'self') {
			if (owned.size + claimed.length >= MAX_CLIENT_IDS_PER_CONNECTION) {
				dropped++;
				continue;
			}
			claimed.push(clientId);
		}
		out.push({ clientId, clock, state: JSON.stringify(boundState(state, identity)) });
	}
	if (out.length === 0) return { update: null, claimed, dropped };
	const encoder = encoding.createEncoder();
	encoding.writeVarUint(encoder, out.length);
	for (const e of out) {
		encoding.writeVarUint(encoder, e.clientId);
		encoding.writeVarUint(encoder, e.clock);
		encoding.writeVarString(encoder, e.state);
	}
	return { update: encoding.toUint8Array(encoder), claimed, dropped };
}

/** The only awareness state a client can have: who they are (from the server) and typing. */
function boundState(state: unknown, identity: AwarenessIdentity) {
	if (state === null) return null;
	const typing =
		typeof state === 'object' && state !== null && (state as { typing?: unknown }).typing === true;
	return {
		user: { principal: identity.principal, name: identity.name, role: identity.role },
		typing
	};
}

/**
 * The entries of an awareness update: client id and the principal its state names (null when
 * the update removes the client). Used to remember which clients other instances own.
 */
export function awarenessEntries(
	raw: Uint8Array
): { clientId: number; principal: string | null }[] {
	const decoder = decoding.createDecoder(raw);
	const count = decoding.readVarUint(decoder);
	const out: { clientId: number; principal: string | null }[] = [];
	for (let i = 0; i < count; i++) {
		const clientId = decoding.readVarUint(decoder);
		decoding.readVarUint(decoder); // clock
		const state = JSON.parse(decoding.readVarString(decoder)) as {
			user?: { principal?: unknown };
		} | null;
		const principal = state?.user?.principal;
		out.push({ clientId, principal: typeof principal === 'string' ? principal : null });
	}
	return out;
}
