/**
 * The server's clock minus this device's, in ms, as well as this device can tell. Offers carry
 * server times (`requestedAt`, `expiresAt`) that the server enforces, and a message's time of
 * writing is compared with the server's time of storing (`arrivedLate`): a device whose clock is
 * minutes off would otherwise show the wrong time left to answer, and every message of it would
 * look as if it arrived late. Learnt from the `now` that the session endpoints return, taken as
 * halfway through the request (one NTP-style sample; its error is at most half the round trip).
 * Kept on the device, so that messages written offline after a reload carry the corrected time.
 */
const KEY = 'parley:clock-offset';

function kept(): number {
	try {
		const v = Number(globalThis.localStorage?.getItem(KEY) ?? 0);
		return Number.isFinite(v) ? v : 0;
	} catch {
		return 0;
	}
}

let offset = kept();

/** Learns the offset from a server reply's `now`, for a request sent at `sentAt` (device time). */
export function learnServerTime(now: unknown, sentAt: number, receivedAt = Date.now()) {
	if (typeof now !== 'number' || !Number.isFinite(now)) return;
	offset = Math.round(now - (sentAt + receivedAt) / 2);
	try {
		globalThis.localStorage?.setItem(KEY, String(offset));
	} catch {
		// storage refused (private mode, quota): the offset holds for this page only
	}
}

/** The server's time now, as well as this device can tell. */
export const serverNow = () => Date.now() + offset;
